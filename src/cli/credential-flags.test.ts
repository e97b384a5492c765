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
  [{ 'credentials-url': URL_OK }, '--credentials-ca-file is required'],
  [{ 'credentials-url': URL_OK, 'credentials-ca-file': join(dir, 'nope') }, 'ENOENT'],
  [{ 'credentials-url': URL_OK, 'credentials-ca-file': notPem }, 'holds no PEM certificate'],
])('%o is refused: %s', (values, message) => {
  const r = resolveCredentialDelivery(values, {});
  expect(r.ok).toBe(false);
  expect(!r.ok && r.message).toContain(message);
});
