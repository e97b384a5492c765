import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { request } from 'node:https';
import {
  DEFAULT_CERTIFICATE_POLICY,
  issueCertificates,
  planRotation,
  splitPemBundle,
  type RotationPlan,
  type ServingIdentity,
  type WebhookCertificates,
} from './cert-authority.js';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const identity: ServingIdentity = {
  dnsNames: ['modelroute-webhook', 'modelroute-webhook.modelroute-system.svc'],
  ipAddresses: [],
};

async function issueAll(now: number, current?: WebhookCertificates, id = identity) {
  return issueCertificates({ action: 'issue-all', reason: 'test' }, current, id, now);
}

const action = (p: RotationPlan) => p.action;

test('nothing yet: issue a CA and a serving certificate', () => {
  expect(planRotation(undefined, identity, T0)).toEqual({
    action: 'issue-all',
    reason: 'no certificates yet',
  });
});

test('a fresh CA lasts about a year and the serving certificate about 90 days, covering the Service names', async () => {
  const certs = await issueAll(T0);
  const ca = new X509Certificate(certs.caCert);
  const serving = new X509Certificate(certs.cert);
  expect(ca.ca).toBe(true);
  expect(Date.parse(ca.validTo) - T0).toBe(DEFAULT_CERTIFICATE_POLICY.caValidityMs);
  expect(Date.parse(serving.validTo) - T0).toBe(DEFAULT_CERTIFICATE_POLICY.servingValidityMs);
  expect(serving.ca).toBe(false);
  expect(serving.checkIssued(ca) && serving.verify(ca.publicKey)).toBe(true);
  expect(serving.subjectAltName).toBe(
    'DNS:modelroute-webhook, DNS:modelroute-webhook.modelroute-system.svc',
  );
  expect(splitPemBundle(certs.trustBundle)).toEqual([certs.caCert]);
}, 30_000);

test('the serving certificate is kept until 30 days are left, then renewed by the same CA', async () => {
  const certs = await issueAll(T0);
  expect(action(planRotation(certs, identity, T0))).toBe('keep');
  expect(action(planRotation(certs, identity, T0 + 59 * DAY))).toBe('keep');
  const due = planRotation(certs, identity, T0 + 61 * DAY);
  expect(due).toEqual({
    action: 'issue-serving',
    reason: `the serving certificate expires ${new Date(T0 + 90 * DAY).toISOString()}`,
  });
  if (due.action !== 'issue-serving') return;
  const renewed = await issueCertificates(due, certs, identity, T0 + 61 * DAY);
  expect(renewed.caCert).toBe(certs.caCert);
  expect(renewed.caKey).toBe(certs.caKey);
  expect(renewed.trustBundle).toBe(certs.trustBundle);
  expect(renewed.cert).not.toBe(certs.cert);
  expect(action(planRotation(renewed, identity, T0 + 61 * DAY))).toBe('keep');
}, 30_000);

test('a CA with 30 days left is replaced; the old CA stays in the trust bundle while it is valid', async () => {
  const certs = await issueAll(T0);
  // Serving certificates renewed along the way end with the CA at the latest.
  const late = T0 + 300 * DAY;
  const serving = await issueCertificates(
    { action: 'issue-serving', reason: 'test' },
    certs,
    identity,
    late,
  );
  expect(Date.parse(new X509Certificate(serving.cert).validTo)).toBe(T0 + 365 * DAY);
  const due = planRotation(serving, identity, T0 + 336 * DAY);
  expect(due).toEqual({
    action: 'issue-all',
    reason: `the CA expires ${new Date(T0 + 365 * DAY).toISOString()}`,
  });
  if (due.action !== 'issue-all') return;
  const rotated = await issueCertificates(due, serving, identity, T0 + 336 * DAY);
  expect(rotated.caCert).not.toBe(certs.caCert);
  expect(splitPemBundle(rotated.trustBundle)).toEqual([rotated.caCert, certs.caCert]);
  expect(action(planRotation(rotated, identity, T0 + 336 * DAY))).toBe('keep');
  // Once the old CA has expired, the next renewal drops it from the bundle.
  const after = T0 + 336 * DAY + 61 * DAY;
  const next = planRotation(rotated, identity, after);
  if (next.action !== 'issue-serving') throw new Error(next.action);
  const renewed = await issueCertificates(next, rotated, identity, after);
  expect(splitPemBundle(renewed.trustBundle)).toEqual([rotated.caCert]);
}, 30_000);

test('a new name (e.g. --webhook-extra-san 127.0.0.1) gets a new serving certificate', async () => {
  const certs = await issueAll(T0);
  const wider = { ...identity, ipAddresses: ['127.0.0.1'] };
  expect(planRotation(certs, wider, T0)).toEqual({
    action: 'issue-serving',
    reason: 'the serving certificate does not cover 127.0.0.1',
  });
  const renewed = await issueCertificates(
    { action: 'issue-serving', reason: 'test' },
    certs,
    wider,
    T0,
  );
  expect(new X509Certificate(renewed.cert).subjectAltName).toContain('IP Address:127.0.0.1');
}, 30_000);

test.each<
  [string, (c: WebhookCertificates, other: WebhookCertificates) => WebhookCertificates, RegExp]
>([
  ['garbage in tls.crt', (c) => ({ ...c, cert: 'not a certificate' }), /unreadable certificates/],
  ['a key that does not match', (c, o) => ({ ...c, key: o.key }), /serving key does not match/],
  ['a CA key that does not match', (c, o) => ({ ...c, caKey: o.caKey }), /CA key does not match/],
  [
    'a serving certificate from another CA',
    (c, o) => ({ ...c, cert: o.cert, key: o.key }),
    /not signed by the CA/,
  ],
])(
  '%s is repaired',
  async (_what, corrupt, reason) => {
    const certs = await issueAll(T0);
    const other = await issueAll(T0);
    const p = planRotation(corrupt(certs, other), identity, T0);
    expect(p.action).not.toBe('keep');
    expect(p.action !== 'keep' && p.reason).toMatch(reason);
  },
  30_000,
);

test('a TLS client that trusts the bundle accepts the serving certificate by DNS name and IP', async () => {
  const now = Date.now();
  const certs = await issueAll(now, undefined, {
    dnsNames: ['modelroute-webhook.modelroute-system.svc'],
    ipAddresses: ['127.0.0.1'],
  });
  const server = createServer({ cert: certs.cert, key: certs.key }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const get = (servername?: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, ca: certs.trustBundle, servername, path: '/' },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
      req.end();
    });
  try {
    await expect(get()).resolves.toBe('ok');
    await expect(get('modelroute-webhook.modelroute-system.svc')).resolves.toBe('ok');
    await expect(get('elsewhere.example')).rejects.toThrow(/altnames/i);
  } finally {
    server.close();
  }
}, 30_000);
