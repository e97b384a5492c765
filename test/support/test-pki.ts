// Certificates for TLS tests: a private CA, server certificates for
// loopback, client certificates for mutual TLS (ECDSA P-256, @peculiar/x509).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto);

const KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { ...KEY, hash: 'SHA-256' } as const;
const HOUR = 3_600_000;

export interface TestCa {
  cert: string;
  key: webcrypto.CryptoKey;
  certificate: x509.X509Certificate;
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`;
}

export async function testCa(name = 'modelroute-test-ca'): Promise<TestCa> {
  const keys = await webcrypto.subtle.generateKey(KEY, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + 24 * HOUR),
    keys,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: `${certificate.toString('pem')}\n`, key: keys.privateKey, certificate };
}

/** A leaf certificate and its key in PEM: for a server (names in the SAN) or a client. */
export async function issue(
  ca: TestCa,
  usage: 'server' | 'client',
  names: { dns?: string[]; ip?: string[] } = {},
): Promise<{ cert: string; key: string }> {
  const keys = await webcrypto.subtle.generateKey(KEY, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${names.dns?.[0] ?? names.ip?.[0] ?? `test-${usage}`}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + 24 * HOUR),
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(usage === 'server'
        ? [
            new x509.SubjectAlternativeNameExtension([
              ...(names.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
              ...(names.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
            ]),
          ]
        : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  return { cert: `${cert.toString('pem')}\n`, key: await keyPem(keys.privateKey) };
}
