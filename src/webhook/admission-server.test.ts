import { request } from 'node:https';
import { createLogger } from '../telemetry/logger.js';
import { startAdmissionServer, type RunningAdmissionServer } from './admission-server.js';
import { issueCertificates, type WebhookCertificates } from './cert-authority.js';

let server: RunningAdmissionServer;
let certs: WebhookCertificates;
const seen: unknown[] = [];

beforeAll(async () => {
  certs = await issueCertificates(
    { action: 'issue-all', reason: 'test' },
    undefined,
    {
      dnsNames: [],
      ipAddresses: ['127.0.0.1'],
    },
    Date.now(),
  );
  server = await startAdmissionServer({
    host: '127.0.0.1',
    port: 0,
    logger: createLogger({ level: 'error', write: () => {} }),
    handlers: {
      '/mutate-pods': (req) => {
        seen.push(req);
        if (req.name === 'boom') return Promise.reject(new Error('handler bug'));
        return Promise.resolve({
          allowed: true,
          patch: [{ op: 'add', path: '/metadata/labels/x', value: 'y' }],
          warnings: ['careful'],
        });
      },
    },
  });
}, 30_000);

afterAll(() => server.close());

function post(
  path: string,
  body: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        ca: certs.trustBundle,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(text) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const review = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'alice' },
      object: { metadata: { name: 'p' }, spec: { containers: [] } },
      ...overrides,
    },
  });

test('handshakes fail until a certificate is set', async () => {
  await expect(post('/mutate-pods', review())).rejects.toThrow();
  server.setCertificate(certs);
  await expect(post('/mutate-pods', review())).resolves.toMatchObject({ status: 200 });
});

test('answers an AdmissionReview with the same uid and a base64 JSONPatch', async () => {
  const { status, json } = await post('/mutate-pods', review());
  expect(status).toBe(200);
  const response = json.response as Record<string, unknown>;
  expect(json).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
  expect(response).toMatchObject({
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    allowed: true,
    patchType: 'JSONPatch',
    warnings: ['careful'],
  });
  expect(JSON.parse(Buffer.from(response.patch as string, 'base64').toString())).toEqual([
    { op: 'add', path: '/metadata/labels/x', value: 'y' },
  ]);
});

test.each([
  ['not JSON', '{', /not JSON/],
  ['not a review', JSON.stringify({ hello: 1 }), /apiVersion must be admission\.k8s\.io\/v1/],
  [
    'a v1beta1 review',
    review().replace('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'),
    /admissionReviewVersions: \[v1\]/,
  ],
  ['a review without a uid', review({ uid: '' }), /request\.uid/],
])(
  'a body that is %s gets 400 with an explanation, and the handler is not called',
  async (_w, body, message) => {
    const before = seen.length;
    const { status, json } = await post('/mutate-pods', body);
    expect(status).toBe(400);
    expect(json.error).toMatch(message);
    expect(seen.length).toBe(before);
  },
);

test('an unknown path is 404; a handler that throws is 500 and the server keeps serving', async () => {
  expect((await post('/validate', review())).status).toBe(404);
  expect((await post('/mutate-pods', review({ name: 'boom' }))).status).toBe(500);
  expect((await post('/mutate-pods', review())).status).toBe(200);
});
