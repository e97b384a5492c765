import { UpstreamTargets } from './upstream-target.js';

describe('UpstreamTargets', () => {
  test('splits a URL into pool origin, request path (with query) and host/port', () => {
    const targets = new UpstreamTargets();
    expect(
      targets.resolve(
        'https://x.openai.azure.com:8443/openai/deployments/d/chat/completions?api-version=2024-10-21',
      ),
    ).toEqual({
      origin: 'https://x.openai.azure.com:8443',
      path: '/openai/deployments/d/chat/completions?api-version=2024-10-21',
      hostname: 'x.openai.azure.com',
      port: 8443,
    });
    expect(targets.resolve('http://127.0.0.1/v1/embeddings')).toEqual({
      origin: 'http://127.0.0.1',
      path: '/v1/embeddings',
      hostname: '127.0.0.1',
      port: undefined,
    });
  });

  test('the same URL resolves to the same (remembered) target', () => {
    const targets = new UpstreamTargets();
    const first = targets.resolve('http://a.example:8000/v1/chat/completions');
    expect(targets.resolve('http://a.example:8000/v1/chat/completions')).toBe(first);
  });

  test('stays bounded: past its limit it starts afresh and still answers correctly', () => {
    const targets = new UpstreamTargets();
    const first = targets.resolve('http://h0.example/v1/chat/completions');
    for (let i = 1; i <= 1024; i++) targets.resolve(`http://h${i}.example/v1/chat/completions`);
    const again = targets.resolve('http://h0.example/v1/chat/completions');
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  test('a malformed URL throws, like new URL()', () => {
    expect(() => new UpstreamTargets().resolve('not a url')).toThrow();
  });
});
