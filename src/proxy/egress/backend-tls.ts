// A backend's TLS material (spec.tls): the CA bundle its server must chain to
// (a Secret or ConfigMap key), the client certificate it requires (a
// kubernetes.io/tls Secret) and the server name. Read through the proxy's
// credential resolver (mounted, env, bound to the backend's origin), checked
// once (PEM parses, the key matches the certificate), and re-read now and
// then so rotated material takes effect. A backend whose material is missing
// or broken fails with a BackendTlsError; other backends are not affected.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { CompiledBackend, CompiledTls } from '../../routing/table.js';
import { TLS_SECRET_KEYS } from '../../routing/backend-secrets.js';
import { splitPemBundle } from './pem.js';

/** What the connections to a backend are opened with; `key` tells pools apart. */
export interface TlsMaterial {
  /** A digest of everything below: backends with the same material may share connections. */
  key: string;
  connect: { ca?: string[]; cert?: string; key?: string; servername?: string };
}

/** The backend's TLS settings cannot be used; the message names the backend, the setting and the fix. */
export class BackendTlsError extends Error {}

export interface BackendTlsDeps {
  /** A Secret key the backend references (the credential resolver's secretFor). Throws when missing. */
  secret(backend: CompiledBackend, ref: { secretName: string; key: string }): string;
  /** A ConfigMap key the backend references (mounted or env). Throws when missing. */
  configMap(backend: CompiledBackend, ref: { name: string; key: string }): string;
  now(): number;
  /** How long checked material is used before it is read again (default 30 s, as API keys). */
  recheckMs?: number;
}

interface Cached {
  tls: CompiledTls;
  material: TlsMaterial;
  readAt: number;
}

export class BackendTls {
  private readonly byBackend = new Map<string, Cached>();
  private readonly recheckMs: number;

  constructor(private readonly deps: BackendTlsDeps) {
    this.recheckMs = deps.recheckMs ?? 30_000;
  }

  /** Undefined for backends without TLS settings (the rule: no work at all). Throws BackendTlsError. */
  materialFor(backend: CompiledBackend): TlsMaterial | undefined {
    const tls = backend.tls;
    if (tls === undefined) return undefined;
    const cached = this.byBackend.get(backend.id);
    const now = this.deps.now();
    if (cached && cached.tls === tls && now - cached.readAt < this.recheckMs)
      return cached.material;
    const material = this.read(backend, tls);
    // The same material keeps the same object (and so the same pool).
    const kept = cached && cached.material.key === material.key ? cached.material : material;
    this.byBackend.set(backend.id, { tls, material: kept, readAt: now });
    return kept;
  }

  private read(backend: CompiledBackend, tls: CompiledTls): TlsMaterial {
    const connect: TlsMaterial['connect'] = {};
    const fail = (setting: string, problem: string, fix: string): BackendTlsError =>
      new BackendTlsError(`backend ${backend.id}: spec.tls.${setting} ${problem}; ${fix}`);
    if (tls.caBundle) {
      const { kind, name, key } = tls.caBundle;
      const where = `${kind} "${name}" key "${key}"`;
      let pem: string;
      try {
        pem =
          kind === 'Secret'
            ? this.deps.secret(backend, { secretName: name, key })
            : this.deps.configMap(backend, { name, key });
      } catch (err) {
        throw fail(
          'caBundle',
          `cannot be read: ${(err as Error).message}`,
          `create the ${kind} and key`,
        );
      }
      const certs = splitPemBundle(pem);
      if (certs.length === 0)
        throw fail(
          'caBundle',
          `(${where}) holds no PEM certificate`,
          'put the CA certificates in PEM (-----BEGIN CERTIFICATE-----) under that key',
        );
      certs.forEach((cert, i) => {
        try {
          new X509Certificate(cert);
        } catch (err) {
          throw fail(
            'caBundle',
            `(${where}) certificate ${i + 1} does not parse (${(err as Error).message})`,
            'fix the PEM under that key',
          );
        }
      });
      connect.ca = certs;
    }
    if (tls.clientCertificate) {
      const secretName = tls.clientCertificate.secretName;
      const where = `Secret "${secretName}"`;
      let cert: string;
      let key: string;
      try {
        cert = this.deps.secret(backend, { secretName, key: TLS_SECRET_KEYS.certificate });
        key = this.deps.secret(backend, { secretName, key: TLS_SECRET_KEYS.privateKey });
      } catch (err) {
        throw fail(
          'clientCertificate',
          `cannot be read: ${(err as Error).message}`,
          `create ${where} of type kubernetes.io/tls with keys tls.crt and tls.key`,
        );
      }
      let leaf: X509Certificate;
      try {
        leaf = new X509Certificate(splitPemBundle(cert)[0] ?? cert);
      } catch (err) {
        throw fail(
          'clientCertificate',
          `(${where} key tls.crt) does not parse (${(err as Error).message})`,
          'put the PEM certificate chain in tls.crt',
        );
      }
      let privateKey;
      try {
        privateKey = createPrivateKey(key);
      } catch {
        // Never the parser's message: it may quote the key.
        throw fail(
          'clientCertificate',
          `(${where} key tls.key) is not a PEM private key`,
          'put the unencrypted PEM private key in tls.key',
        );
      }
      if (!leaf.checkPrivateKey(privateKey))
        throw fail(
          'clientCertificate',
          `(${where}): tls.key is not the key of the certificate in tls.crt`,
          'put the matching certificate and key in the Secret',
        );
      connect.cert = cert;
      connect.key = key;
    }
    if (tls.serverName !== undefined) connect.servername = tls.serverName;
    const digest = createHash('sha256')
      .update(JSON.stringify([connect.ca, connect.cert, connect.key, connect.servername]))
      .digest('base64url')
      .slice(0, 22);
    return { key: digest, connect };
  }
}
