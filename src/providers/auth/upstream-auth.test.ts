import type { CompiledBackend } from '../../routing/table.js';
import type { UpstreamAuth } from '../types.js';
import type { AuthSourceFactory } from './types.js';
import { createUpstreamAuth } from './upstream-auth.js';

const backend = (extra: Partial<CompiledBackend> = {}): CompiledBackend => ({
  id: 'ns/b',
  namespace: 'ns',
  name: 'b',
  provider: 'openai',
  baseUrl: 'https://api.example/v1',
  model: 'm',
  pricing: { inputPerMillion: 0, outputPerMillion: 0, cachedInputPerMillion: 0 },
  limits: {},
  capabilities: ['chat'],
  compliance: [],
  timeouts: { connectMs: 1, firstTokenMs: 1, totalMs: 1 },
  health: 'Healthy',
  ...extra,
});

function deps() {
  return {
    apiKey: (b: CompiledBackend) => (b.credentials ? 'sk-1' : undefined),
    secret: () => 'x',
    fetch: globalThis.fetch,
    env: {},
    now: () => 0,
    readFile: () => '',
  };
}

test('backends without cloud auth get their API key, or nothing', () => {
  const resolver = createUpstreamAuth(deps());
  expect(resolver.authFor(backend())).toBeUndefined();
  expect(resolver.authFor(backend({ credentials: { secretName: 's', key: 'apiKey' } }))).toEqual({
    kind: 'api-key',
    key: 'sk-1',
  });
});

test('one source per backend, made again only when its auth settings or endpoint change', () => {
  let made = 0;
  const fake: AuthSourceFactory = () => {
    made += 1;
    const auth: UpstreamAuth = { kind: 'bearer', token: `t${made}` };
    return { current: () => auth };
  };
  const resolver = createUpstreamAuth(deps(), { aws: fake, gcp: fake, 'azure-entra': fake });
  const gcp = backend({
    provider: 'vertex-gemini',
    auth: { type: 'gcp', source: 'metadataServer' },
  });
  expect(resolver.authFor(gcp)).toEqual({ kind: 'bearer', token: 't1' });
  expect(resolver.authFor({ ...gcp })).toEqual({ kind: 'bearer', token: 't1' });
  expect(resolver.authFor({ ...gcp, baseUrl: 'https://other.example' })).toEqual({
    kind: 'bearer',
    token: 't2',
  });
  expect(made).toBe(2);
});
