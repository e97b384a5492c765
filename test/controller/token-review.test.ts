// A gateway proxy verifying ServiceAccount tokens with the REAL API server's
// TokenReview: tokens minted by `kubectl create token` for the audience
// `modelroute` call as the tenant binding their ServiceAccount; a token for
// another audience, one with a tampered signature and one whose
// ServiceAccount was deleted are 401. (The test API server signs tokens with
// its own --service-account-signing-key-file and issuer; see test/testenv.)
import { APIError } from 'openai';
import OpenAI from 'openai';
import { createKubeTokenReviewer } from '../../src/k8s/token-reviewer.js';
import { createNamespace, mustKubectl, testenv } from '../support/cluster.js';
import { route, startDataPlane, tenant, type DataPlane } from '../support/data-plane.js';

let ns: string;
let dp: DataPlane;

const token = (account: string, audience: string) =>
  mustKubectl(['create', 'token', account, '-n', ns, '--audience', audience]).trim();

beforeAll(async () => {
  ns = createNamespace('token-review');
  for (const account of ['caller', 'gone'])
    mustKubectl(['create', 'serviceaccount', account, '-n', ns]);
  dp = await startDataPlane(
    [{ name: 'a' }],
    [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] })],
    {
      identity: {
        mode: 'gateway',
        tokenReviewer: createKubeTokenReviewer(testenv.kubeconfig),
        audience: 'modelroute',
      },
      tableIdentity: {
        tenants: [
          tenant('billing', {
            identities: { serviceAccounts: [{ namespace: ns, name: 'caller' }] },
          }),
          tenant('ops', { identities: { serviceAccounts: [{ namespace: ns, name: 'gone' }] } }),
        ],
        unmatched: 'deny',
      },
    },
  );
}, 60_000);

afterAll(async () => {
  await dp?.close();
});

async function call(credential: string) {
  const client = new OpenAI({
    baseURL: `${dp.proxy.dataUrl}/v1`,
    apiKey: credential,
    maxRetries: 0,
  });
  try {
    const { response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    return { status: response.status, tenant: response.headers.get('x-modelroute-tenant') };
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    expect(JSON.stringify(err.error)).not.toContain(credential);
    return { status: err.status, code: err.code };
  }
}

test('a token for audience modelroute calls as the tenant binding its ServiceAccount', async () => {
  expect(await call(token('caller', 'modelroute'))).toEqual({ status: 200, tenant: 'billing' });
});

test('a token for another audience is 401', async () => {
  expect(await call(token('caller', 'https://kubernetes.default.svc'))).toEqual({
    status: 401,
    code: 'invalid_api_key',
  });
});

test('a token with a tampered signature is 401', async () => {
  const [header, payload, signature] = token('caller', 'modelroute').split('.') as [
    string,
    string,
    string,
  ];
  const i = Math.floor(signature.length / 2);
  const tampered = `${header}.${payload}.${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;
  expect(await call(tampered)).toEqual({ status: 401, code: 'invalid_api_key' });
  // A payload claiming another account, with the real signature: also 401.
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<
    string,
    unknown
  >;
  const forged = Buffer.from(
    JSON.stringify({ ...claims, sub: `system:serviceaccount:${ns}:gone` }),
  ).toString('base64url');
  expect(await call(`${header}.${forged}.${signature}`)).toEqual({
    status: 401,
    code: 'invalid_api_key',
  });
});

test('the token of a deleted ServiceAccount is 401', async () => {
  // The account's tokens are good while it exists. Asked with another token than the one used
  // below: the API server keeps a successful review for 10 s (its token success cache).
  const reviewer = createKubeTokenReviewer(testenv.kubeconfig);
  expect(await reviewer.review(token('gone', 'modelroute'), ['modelroute'])).toMatchObject({
    authenticated: true,
  });
  const orphan = token('gone', 'modelroute');
  mustKubectl(['delete', 'serviceaccount', 'gone', '-n', ns, '--wait=true']);
  expect(await call(orphan)).toEqual({ status: 401, code: 'invalid_api_key' });
});
