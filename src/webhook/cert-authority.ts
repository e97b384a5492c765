// The webhook's own small CA: issues the CA and the serving certificate, and
// decides (from the certificates and an injected clock alone) when to rotate.
//
// X.509 encoding is @peculiar/x509's; every key and signature is Node's
// WebCrypto (OpenSSL). Keys are ECDSA P-256: small, fast to generate, and
// accepted by the API server for webhook serving certificates.
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the
// Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { splitPemBundle } from '../proxy/egress/pem.js';

x509.cryptoProvider.set(webcrypto);

const DAY_MS = 24 * 60 * 60 * 1000;
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { ...KEY_ALGORITHM, hash: 'SHA-256' } as const;
/** Certificates start an hour in the past: the API server's clock may be behind ours. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;

export interface CertificatePolicy {
  caValidityMs: number;
  servingValidityMs: number;
  /** Rotate a certificate when less than this is left of it. */
  renewBeforeMs: number;
}

export const DEFAULT_CERTIFICATE_POLICY: CertificatePolicy = {
  caValidityMs: 365 * DAY_MS,
  servingValidityMs: 90 * DAY_MS,
  renewBeforeMs: 30 * DAY_MS,
};

/** The names the serving certificate must cover. */
export interface ServingIdentity {
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

/** Everything in PEM. */
export interface WebhookCertificates {
  /** The CA that signs serving certificates now, and its key. */
  caCert: string;
  caKey: string;
  /**
   * What clients trust (ca.crt, the webhook's caBundle): the current CA and,
   * right after a CA rotation, the previous one, so replicas still serving a
   * certificate from the old CA are trusted until they reload.
   */
  trustBundle: string;
  cert: string;
  key: string;
}

export type RotationPlan =
  | { action: 'keep'; certificates: WebhookCertificates }
  | { action: 'issue-serving'; reason: string }
  | { action: 'issue-all'; reason: string };

export { splitPemBundle };

const expiresAt = (cert: X509Certificate): number => Date.parse(cert.validTo);

/** "DNS:a, DNS:b, IP Address:127.0.0.1" → the names a certificate covers. */
function subjectAltNames(cert: X509Certificate): { dns: Set<string>; ip: Set<string> } {
  const dns = new Set<string>();
  const ip = new Set<string>();
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) dns.add(part.slice(4));
    else if (part.startsWith('IP Address:')) ip.add(part.slice(11));
  }
  return { dns, ip };
}

const isoDate = (ms: number): string => new Date(ms).toISOString();

/**
 * Whether the certificates can keep serving at `now`, and if not, what to
 * issue. Anything unreadable or inconsistent means a new CA: nothing in a
 * corrupt Secret is trusted.
 */
export function planRotation(
  current: WebhookCertificates | undefined,
  identity: ServingIdentity,
  now: number,
  policy: CertificatePolicy = DEFAULT_CERTIFICATE_POLICY,
): RotationPlan {
  if (!current) return { action: 'issue-all', reason: 'no certificates yet' };
  let ca: X509Certificate;
  let serving: X509Certificate;
  try {
    ca = new X509Certificate(current.caCert);
    if (!ca.ca) return { action: 'issue-all', reason: 'the CA certificate is not a CA' };
    if (!ca.checkPrivateKey(createPrivateKey(current.caKey)))
      return { action: 'issue-all', reason: 'the CA key does not match the CA certificate' };
    if (
      !splitPemBundle(current.trustBundle).some((pem) =>
        new X509Certificate(pem).raw.equals(ca.raw),
      )
    )
      return { action: 'issue-all', reason: 'the trust bundle does not contain the CA' };
    serving = new X509Certificate(current.cert);
    if (!serving.checkPrivateKey(createPrivateKey(current.key)))
      return { action: 'issue-all', reason: 'the serving key does not match its certificate' };
  } catch (err) {
    return { action: 'issue-all', reason: `unreadable certificates: ${(err as Error).message}` };
  }
  const caLeft = expiresAt(ca) - now;
  if (!(caLeft > policy.renewBeforeMs))
    return { action: 'issue-all', reason: `the CA expires ${isoDate(expiresAt(ca))}` };
  if (!serving.checkIssued(ca) || !serving.verify(ca.publicKey))
    return { action: 'issue-serving', reason: 'the serving certificate is not signed by the CA' };
  const names = subjectAltNames(serving);
  const missing = [
    ...identity.dnsNames.filter((n) => !names.dns.has(n)),
    ...identity.ipAddresses.filter((n) => !names.ip.has(n)),
  ];
  if (missing.length > 0)
    return {
      action: 'issue-serving',
      reason: `the serving certificate does not cover ${missing.join(', ')}`,
    };
  // Serving certificates end no later than their CA, so this also fires when the CA does.
  if (!(expiresAt(serving) - now > policy.renewBeforeMs))
    return {
      action: 'issue-serving',
      reason: `the serving certificate expires ${isoDate(expiresAt(serving))}`,
    };
  if (Date.parse(serving.validFrom) > now)
    return { action: 'issue-serving', reason: 'the serving certificate is not valid yet' };
  return { action: 'keep', certificates: current };
}

async function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`;
}

async function importSigningKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
}

async function issueCa(now: number, policy: CertificatePolicy) {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=modelroute-webhook-ca-${now.toString(36)}`,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + policy.caValidityMs),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { caCert: cert.toString('pem') + '\n', caKey: await privateKeyPem(keys.privateKey) };
}

async function issueServing(
  ca: { caCert: string; caKey: string },
  identity: ServingIdentity,
  now: number,
  policy: CertificatePolicy,
): Promise<{ cert: string; key: string }> {
  const caCert = new x509.X509Certificate(ca.caCert);
  const keys = await newKeyPair();
  const notAfter = Math.min(now + policy.servingValidityMs, caCert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${identity.dnsNames[0] ?? identity.ipAddresses[0] ?? 'modelroute-webhook'}`,
    issuer: caCert.subject,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: await importSigningKey(ca.caKey),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...identity.dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...identity.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await privateKeyPem(keys.privateKey) };
}

/** The CAs of a bundle that are still valid at `now`, except `drop`. */
function stillValid(bundle: string, now: number, drop?: string): string[] {
  return splitPemBundle(bundle).filter((pem) => {
    try {
      const cert = new X509Certificate(pem);
      return (
        expiresAt(cert) > now &&
        (drop === undefined || !cert.raw.equals(new X509Certificate(drop).raw))
      );
    } catch {
      return false;
    }
  });
}

/** Carries out a plan: a new serving certificate, or a new CA and serving certificate. */
export async function issueCertificates(
  plan: Exclude<RotationPlan, { action: 'keep' }>,
  current: WebhookCertificates | undefined,
  identity: ServingIdentity,
  now: number,
  policy: CertificatePolicy = DEFAULT_CERTIFICATE_POLICY,
): Promise<WebhookCertificates> {
  if (plan.action === 'issue-serving' && current) {
    const serving = await issueServing(current, identity, now, policy);
    const others = stillValid(current.trustBundle, now, current.caCert);
    return { ...current, ...serving, trustBundle: [current.caCert, ...others].join('') };
  }
  const ca = await issueCa(now, policy);
  const serving = await issueServing(ca, identity, now, policy);
  // The previous CA stays trusted while it is valid: other replicas may still serve its certificate.
  const previous = current ? stillValid(current.caCert, now) : [];
  return { ...ca, ...serving, trustBundle: [ca.caCert, ...previous].join('') };
}
