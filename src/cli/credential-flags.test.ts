// The proxy's credential-delivery flags: off without a URL, and a clear
// message for each wrong combination.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCredentialDelivery } from './credential-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'modelroute-cred-flags-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const notPem = join(dir, 'not.pem');
writeFileSync(notPem, 'hello');
const URL_OK = 'https://modelroute-webhook.modelroute-system.svc:443/v1/credentials';

test('no URL: delivery is off', () => {
  expect(resolveCredentialDelivery({}, {})).toEqual({ ok: true, settings: undefined });
});

test('flags, env and the default token file', () => {
  const r = resolveCredentialDelivery(
    {},
    {
      MODELROUTE_CREDENTIALS_URL: URL_OK,
      MODELROUTE_CREDENTIALS_CA_FILE: caFile,
      POD_NAMESPACE: 'app-a',
    },
  );
  expect(r).toMatchObject({
    ok: true,
    settings: {
      url: URL_OK,
      tokenFile: '/var/run/secrets/modelroute/token',
      namespace: 'app-a',
      ca: expect.stringContaining('BEGIN CERTIFICATE') as string,
    },
  });
});

test.each([
  [
    { 'credentials-url': 'http://x/v1/credentials', 'credentials-ca-file': caFile },
    'must be https',
  ],
  [{ 'credentials-url': 'not a url', 'credentials-ca-file': caFile }, 'must be a URL'],
  [
    { 'credentials-url': URL_OK },
    '(or env MODELROUTE_CREDENTIALS_CA) is required with --credentials-url',
  ],
  [{ 'credentials-url': URL_OK, 'credentials-ca-file': join(dir, 'nope') }, 'ENOENT'],
  [{ 'credentials-url': URL_OK, 'credentials-ca-file': notPem }, 'holds no PEM certificate'],
])('%o is refused: %s', (values, message) => {
  const r = resolveCredentialDelivery(values, { POD_NAMESPACE: 'app-a' });
  expect(r.ok).toBe(false);
  expect(!r.ok && r.message).toContain(message);
});

test("delivery needs the pod's namespace, so its own backends keep their mounted keys", () => {
  const r = resolveCredentialDelivery(
    { 'credentials-url': URL_OK, 'credentials-ca-file': caFile },
    {},
  );
  expect(r.ok).toBe(false);
  expect(!r.ok && r.message).toContain('POD_NAMESPACE must be set');
});

test('the CA may come inline, as the injector sets it', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n';
  const r = resolveCredentialDelivery(
    { 'credentials-url': URL_OK },
    { MODELROUTE_CREDENTIALS_CA: pem, POD_NAMESPACE: 'app-a' },
  );
  expect(r).toMatchObject({ ok: true, settings: { ca: pem } });
});
