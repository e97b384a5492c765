// spec.endpoint never carries a credential and always names the host it seems
// to: checked offline here over generated URLs (the CRD validation suite checks
// the same rules on the real API server with fixtures).
import { modelBackendSpec } from './modelbackend.js';

const accepts = (provider: string, endpoint: string) =>
  modelBackendSpec.safeParse({ provider, endpoint, model: 'm', azure: { deployment: 'd' } })
    .success;

describe('spec.endpoint', () => {
  test.each([
    ['https://user:sk-abc@api.openai.com/v1', 'spec.secretRef'],
    ['https://sk-abc@api.openai.com/v1', 'spec.secretRef'],
    ['https://x.openai.azure.com/?api-key=abc', 'spec.secretRef'],
    ['https://api.openai.com/v1?key=abc', 'spec.secretRef'],
    ['https://api.openai.com/v1?token=abc&x=1', 'spec.secretRef'],
    ['https://api.openai.com/v1#access_token=abc', 'spec.secretRef'],
  ])('%s is refused, pointing at secretRef', (endpoint, hint) => {
    const result = modelBackendSpec.safeParse({ provider: 'openai', endpoint, model: 'm' });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(hint);
  });

  test('hosted providers need https except to this machine; openai-compatible may use http', () => {
    for (const provider of ['openai', 'anthropic', 'azure-openai']) {
      expect(accepts(provider, 'http://api.example.com/v1')).toBe(false);
      expect(accepts(provider, 'http://localhost.evil.example/v1')).toBe(false);
      expect(accepts(provider, 'https://api.example.com/v1')).toBe(true);
      expect(accepts(provider, 'http://127.0.0.1:8080/v1')).toBe(true);
      expect(accepts(provider, 'http://[::1]:8080')).toBe(true);
    }
    expect(accepts('openai-compatible', 'http://vllm.ns.svc:8000/v1')).toBe(true);
    // Local mode's simulated backends keep their knobs; no key is ever sent there.
    expect(accepts('openai', 'simulate://fast?latency=50ms&tps=40')).toBe(true);
  });

  test('seeded fuzz: an accepted endpoint has no userinfo, query or fragment and names its host plainly', () => {
    const pieces = [
      'a',
      'b.c',
      '@',
      ':',
      'key',
      '=',
      '?',
      '#',
      '/',
      '\\',
      '%40',
      '80',
      'x-y',
      '[::1]',
      '&',
    ];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      let rest = '';
      const n = 1 + Math.floor(rand() * 8);
      for (let j = 0; j < n; j++) rest += pieces[Math.floor(rand() * pieces.length)];
      const endpoint = `https://${rest}`;
      if (!accepts('openai-compatible', endpoint)) continue;
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        continue; // the proxy refuses what it cannot parse; nothing is sent
      }
      accepted += 1;
      expect(url.username + url.password + url.search + url.hash).toBe('');
      const textualHost = endpoint.slice('https://'.length).split(/[/?#]/)[0]!.toLowerCase();
      // The host is what the authority text alone says: nothing later in the URL moves it.
      expect(url.host).toBe(new URL(`https://${textualHost}/`).host);
    }
    expect(accepted).toBeGreaterThan(300);
  });
});
