import { modelBackend, modelRoute } from '../api/v1alpha1/index.js';
import {
  createCredentialResolver,
  CredentialOriginRefusedError,
  parseCredentialBinding,
} from '../proxy/credentials.js';
import { compileRoutingTable } from '../routing/compile.js';
import { credentialsFor } from './credential-secrets.js';

/** A backend of namespace "team" (an openai one unless the spec says otherwise). */
function backend(name: string, spec: Record<string, unknown>) {
  const metadata = { name, namespace: 'team' };
  const full = { provider: 'openai', model: 'm', ...spec };
  return modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata,
    spec: full,
  });
}
const refs = ['a', 'b', 'c'].map((name) => ({ name }));
const route = modelRoute.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name: 'chat', namespace: 'team' },
  spec: { model: 'chat', rules: [{ name: 'r', backendRefs: refs }] },
});
const backends = [
  backend('a', { endpoint: 'https://api.openai.com/v1', secretRef: { name: 'openai' } }),
  backend('b', { endpoint: 'https://eu.api.openai.com/v1', secretRef: { name: 'openai' } }),
  backend('c', {
    provider: 'openai-compatible',
    serviceRef: { name: 'vllm', port: 8000 },
    secretRef: { name: 'vllm', key: 'token' },
  }),
];

test('the binding names, per mounted key, the origins of the backends that use it', () => {
  expect(credentialsFor('team', {}, [route], backends).binding).toEqual({
    'openai/apiKey': ['https://api.openai.com', 'https://eu.api.openai.com'],
    'vllm/token': ['http://vllm.team.svc.cluster.local:8000'],
  });
  expect(credentialsFor('other', {}, [route], backends).binding).toEqual({});
});

test('the proxy sends a bound key only to its origins, whatever the table says', () => {
  const binding = parseCredentialBinding(
    JSON.stringify(credentialsFor('team', {}, [route], backends).binding),
  );
  const refusals: unknown[] = [];
  const resolver = createCredentialResolver({
    env: { MODELROUTE_SECRET_OPENAI_APIKEY: 'sk-1' },
    binding,
    onRefused: (r) => refusals.push(r),
  });
  const compiled = (endpoint: string) =>
    compileRoutingTable([route], [backend('a', { endpoint, secretRef: { name: 'openai' } })])
      .backends[0]!;
  expect(resolver.apiKeyFor(compiled('https://api.openai.com/v1'))).toBe('sk-1');
  for (const endpoint of [
    'https://evil.example/v1',
    'https://api.openai.com:8443/v1',
    'https://api.openai.com.evil.example/v1',
  ]) {
    expect(() => resolver.apiKeyFor(compiled(endpoint))).toThrow(CredentialOriginRefusedError);
  }
  // A raw pushed table need not pass the CRD schema: scheme and userinfo tricks are refused too.
  const good = compiled('https://api.openai.com/v1');
  for (const baseUrl of ['http://api.openai.com/v1', 'https://api.openai.com@evil.example/v1']) {
    expect(() => resolver.apiKeyFor({ ...good, baseUrl })).toThrow(
      /refusing to send Secret "openai" key "apiKey"/,
    );
  }
  expect(refusals).toHaveLength(5);
  expect(JSON.stringify(refusals)).not.toContain('sk-1');
});

test('a malformed binding is refused with what it should look like', () => {
  expect(() => parseCredentialBinding('{')).toThrow(/not JSON/);
  expect(() => parseCredentialBinding('{"a/b": "x"}')).toThrow(/list of origins/);
});

test('cloud credentials and TLS material are mounted and bound like API keys (issue 18)', () => {
  const cloud = [
    backend('a', {
      provider: 'bedrock',
      endpoint: 'https://bedrock-runtime.us-east-1.amazonaws.com',
      bedrock: { region: 'us-east-1' },
      auth: { aws: { source: 'secret', secretRef: { name: 'aws' } } },
    }),
    backend('b', {
      provider: 'vertex-gemini',
      endpoint: 'https://us-central1-aiplatform.googleapis.com',
      vertex: { project: 'my-project-1', location: 'us-central1' },
      auth: { gcp: { source: 'serviceAccountKey', secretRef: { name: 'gcp' } } },
    }),
    backend('c', {
      provider: 'openai-compatible',
      endpoint: 'https://vllm.internal:8443/v1',
      tls: { clientCertificate: { secretRef: { name: 'mtls' } } },
    }),
  ];
  const pod = credentialsFor('team', {}, [route], cloud);
  expect(Object.fromEntries([...pod.secrets].map(([s, keys]) => [s, [...keys].sort()]))).toEqual({
    aws: ['accessKeyId', 'secretAccessKey', 'sessionToken'],
    gcp: ['credentials.json'],
    mtls: ['tls.crt', 'tls.key'],
  });
  expect(pod.binding['gcp/credentials.json']).toEqual([
    'https://us-central1-aiplatform.googleapis.com',
  ]);
  // A Secret key a backend uses is read only for that backend's origin.
  const resolver = createCredentialResolver({
    env: { MODELROUTE_SECRET_MTLS_TLS_KEY: 'PEM' },
    binding: parseCredentialBinding(JSON.stringify(pod.binding)),
  });
  const table = compileRoutingTable([route], cloud);
  const mtls = table.backends.find((b) => b.name === 'c')!;
  expect(resolver.secretFor!(mtls, { secretName: 'mtls', key: 'tls.key' })).toBe('PEM');
  expect(() =>
    resolver.secretFor!(
      { ...mtls, baseUrl: 'https://evil.example/v1' },
      {
        secretName: 'mtls',
        key: 'tls.key',
      },
    ),
  ).toThrow(CredentialOriginRefusedError);
});

test('TLS material: a client certificate Secret is mounted and bound; a ConfigMap CA bundle is listed to mount', () => {
  const tlsRoute = modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'chat', namespace: 'team' },
    spec: { model: 'chat', rules: [{ name: 'r', backendRefs: [{ name: 'm' }, { name: 'p' }] }] },
  });
  const tlsBackends = [
    backend('m', {
      provider: 'openai-compatible',
      endpoint: 'https://llm.internal:8443/v1',
      tls: {
        caBundle: { configMapRef: { name: 'corp-roots' } },
        clientCertificate: { secretRef: { name: 'llm-client' } },
      },
    }),
    backend('p', {
      provider: 'openai-compatible',
      endpoint: 'https://other.internal/v1',
      tls: { caBundle: { configMapRef: { name: 'corp-roots', key: 'extra.pem' } } },
    }),
  ];
  const pod = credentialsFor('team', {}, [tlsRoute], tlsBackends);
  expect(pod.configMaps).toEqual(new Map([['corp-roots', new Set(['ca.crt', 'extra.pem'])]]));
  expect(pod.secrets).toEqual(new Map([['llm-client', new Set(['tls.crt', 'tls.key'])]]));
  expect(pod.binding).toEqual({
    'llm-client/tls.crt': ['https://llm.internal:8443'],
    'llm-client/tls.key': ['https://llm.internal:8443'],
  });
});
