import { egressProxiesFromEnv } from './proxy-env.js';

const PROXY = 'http://proxy.corp:3128/';

describe('egress proxies from the environment', () => {
  test('none set: no proxies at all', () => {
    expect(egressProxiesFromEnv({})).toBeUndefined();
    expect(egressProxiesFromEnv({ NO_PROXY: 'example.com', HTTPS_PROXY: '' })).toBeUndefined();
  });

  test('https origins use HTTPS_PROXY, http ones HTTP_PROXY; lower case wins; scheme optional', () => {
    const egress = egressProxiesFromEnv({
      HTTPS_PROXY: 'proxy.corp:3128',
      http_proxy: 'http://h:1',
    });
    expect(egress?.proxyFor('https://api.openai.com')).toBe(PROXY);
    expect(egress?.proxyFor('http://svc.ns.svc:8000')).toBe('http://h:1/');
    expect(
      egressProxiesFromEnv({ https_proxy: PROXY, HTTPS_PROXY: 'http://other:1' })?.proxyFor(
        'https://a.b',
      ),
    ).toBe(PROXY);
  });

  test.each([
    ['*', 'https://api.openai.com', undefined],
    ['openai.com', 'https://api.openai.com', undefined],
    ['openai.com', 'https://openai.com', undefined],
    ['openai.com', 'https://notopenai.com', PROXY],
    ['.openai.com', 'https://api.openai.com', undefined],
    ['*.openai.com', 'https://api.openai.com', undefined],
    ['API.OpenAI.com', 'https://api.openai.com', undefined],
    ['api.openai.com:443', 'https://api.openai.com', undefined],
    ['api.openai.com:8443', 'https://api.openai.com', PROXY],
    ['10.0.0.0/8', 'https://10.1.2.3:8443', undefined],
    ['10.0.0.0/8', 'https://11.1.2.3', PROXY],
    ['10.1.2.3', 'https://10.1.2.3', undefined],
    ['::1', 'https://[::1]:8443', undefined],
    ['[::1]:8443', 'https://[::1]:8443', undefined],
    ['[::1]:9', 'https://[::1]:8443', PROXY],
    ['fd00::/8', 'https://[fd00::5]', undefined],
    ['a.com, .svc.cluster.local  b.com', 'https://x.ns.svc.cluster.local', undefined],
  ])('NO_PROXY %j and %s', (noProxy, origin, expected) => {
    expect(egressProxiesFromEnv({ HTTPS_PROXY: PROXY, NO_PROXY: noProxy })?.proxyFor(origin)).toBe(
      expected,
    );
  });

  test('a bad proxy URL names the variable and hides credentials', () => {
    expect(() => egressProxiesFromEnv({ HTTPS_PROXY: 'http://user:pw@[bad' })).toThrow(
      /^HTTPS_PROXY is not a URL \(http:\/\/\*\*\*@\[bad\)/,
    );
    expect(() => egressProxiesFromEnv({ HTTP_PROXY: 'socks5://p:1' })).toThrow(
      /HTTP_PROXY must be an http/,
    );
  });
});
