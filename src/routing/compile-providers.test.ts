// Issue 18: cloud providers' settings, credentials and egress compile into the table.
import { backendSecretKeys } from './backend-secrets.js';
import { backend, route } from './__fixtures__/objects.js';
import { compileRoutingTable } from './compile.js';
import { parseRoutingTable } from './table.js';

const compiled = (spec: Parameters<typeof backend>[1]) => {
  const table = compileRoutingTable(
    [route('r', { rules: [{ name: 'all', backendRefs: [{ name: 'x' }] }] })],
    [backend('x', spec)],
  );
  // What the controller pushes is what a proxy reads back.
  const parsed = parseRoutingTable(JSON.parse(JSON.stringify(table)));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.table.backends[0]!;
};

const bedrock = {
  provider: 'bedrock' as const,
  endpoint: 'https://bedrock-runtime.us-east-1.amazonaws.com',
  bedrock: { region: 'us-east-1' },
};

test('AWS and Google providers without an API key use their default credential chains', () => {
  expect(compiled(bedrock)).toMatchObject({
    bedrock: { region: 'us-east-1' },
    auth: { type: 'aws', source: 'default' },
  });
  expect(
    compiled({
      provider: 'vertex-gemini',
      endpoint: 'https://us-central1-aiplatform.googleapis.com',
      vertex: { project: 'my-project-1', location: 'us-central1' },
    }),
  ).toMatchObject({
    vertex: { project: 'my-project-1', location: 'us-central1' },
    auth: { type: 'gcp', source: 'default' },
  });
});

test('a Bedrock API key in secretRef is an API key, not AWS credentials', () => {
  const b = compiled({ ...bedrock, secretRef: { name: 'bedrock-key' } });
  expect(b.auth).toBeUndefined();
  expect(b.credentials).toEqual({ secretName: 'bedrock-key', key: 'apiKey' });
});

test('every Secret key a backend uses is listed for the injector to mount and bind', () => {
  const b = compiled({
    ...bedrock,
    auth: { aws: { source: 'secret', secretRef: { name: 'aws' } } },
    headers: { 'OpenAI-Project': 'p1' },
    tls: {
      caBundle: { secretRef: { name: 'ca' } },
      clientCertificate: { secretRef: { name: 'client' } },
    },
  });
  expect(b.headers).toEqual({ 'OpenAI-Project': 'p1' });
  expect(b.tls).toEqual({
    caBundle: { kind: 'Secret', name: 'ca', key: 'ca.crt' },
    clientCertificate: { secretName: 'client' },
  });
  expect(backendSecretKeys(b).map((r) => `${r.secretName}/${r.key}`)).toEqual([
    'aws/accessKeyId',
    'aws/secretAccessKey',
    'aws/sessionToken',
    'ca/ca.crt',
    'client/tls.crt',
    'client/tls.key',
  ]);
});

test('Entra ID settings carry the scope and ids, never the secret', () => {
  const b = compiled({
    provider: 'azure-openai',
    endpoint: 'https://contoso.openai.azure.com',
    azure: { deployment: 'gpt-4o' },
    auth: {
      azureEntra: {
        source: 'clientSecret',
        tenantId: 't',
        clientId: 'c',
        secretRef: { name: 'entra' },
      },
    },
  });
  expect(b.auth).toEqual({
    type: 'azure-entra',
    source: 'clientSecret',
    tenantId: 't',
    clientId: 'c',
    secret: { secretName: 'entra', key: 'clientSecret' },
    scope: 'https://cognitiveservices.azure.com/.default',
  });
});

test('source none sends requests unauthenticated (a signing gateway, a simulator)', () => {
  expect(compiled({ ...bedrock, auth: { aws: { source: 'none' } } }).auth).toBeUndefined();
});
