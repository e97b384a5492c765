// Keeps the webhook's CA and serving certificate in one Secret that every
// controller replica shares: reads it, rotates what is due (or missing, or
// corrupt), and settles races between replicas through the API server's
// optimistic concurrency (create → 409 → re-read; update → 409 → re-read).
import { tlsSecrets, type TlsSecret } from '../k8s/kinds.js';
import { KubeApiError, type KubeClient, type ObjectRef } from '../k8s/types.js';
import type { Logger } from '../telemetry/logger.js';
import {
  DEFAULT_CERTIFICATE_POLICY,
  issueCertificates,
  planRotation,
  type CertificatePolicy,
  type ServingIdentity,
  type WebhookCertificates,
} from './cert-authority.js';

/** Keys of a kubernetes.io/tls Secret, plus the CA's (cert-manager's layout for a CA Secret). */
const KEYS = { cert: 'tls.crt', key: 'tls.key', trustBundle: 'ca.crt', caKey: 'ca.key' } as const;
const MAX_ATTEMPTS = 5;

export type SecretClient = Pick<KubeClient, 'get' | 'create' | 'replace'>;

const decode = (data: Record<string, string>, key: string): string | undefined => {
  const b64 = data[key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
};

/** The certificates a Secret holds, or undefined when any part is missing. */
export function certificatesFromSecret(
  secret: TlsSecret | undefined,
): WebhookCertificates | undefined {
  const data = secret?.data ?? {};
  const cert = decode(data, KEYS.cert);
  const key = decode(data, KEYS.key);
  const trustBundle = decode(data, KEYS.trustBundle);
  const caKey = decode(data, KEYS.caKey);
  if (!cert || !key || !trustBundle || !caKey) return undefined;
  // The signing CA is the bundle's first certificate (see issueCertificates).
  const caCert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(
    trustBundle,
  )?.[0];
  if (!caCert) return undefined;
  return { caCert, caKey, trustBundle, cert, key };
}

function secretData(c: WebhookCertificates): Record<string, string> {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  return {
    [KEYS.cert]: b64(c.cert),
    [KEYS.key]: b64(c.key),
    [KEYS.trustBundle]: b64(c.trustBundle),
    [KEYS.caKey]: b64(c.caKey),
  };
}

export interface ServingCertificateOptions {
  client: SecretClient;
  secret: ObjectRef;
  identity: ServingIdentity;
  logger: Logger;
  now?: () => number;
  policy?: CertificatePolicy;
}

export class ServingCertificateStore {
  private readonly now: () => number;
  private readonly policy: CertificatePolicy;

  constructor(private readonly options: ServingCertificateOptions) {
    this.now = options.now ?? Date.now;
    this.policy = options.policy ?? DEFAULT_CERTIFICATE_POLICY;
  }

  /**
   * The certificates to serve now: the Secret's if they are good for a while
   * yet, otherwise freshly issued ones, written back so the other replicas
   * use them too. When another replica wins a race, its certificates are used.
   */
  async current(): Promise<WebhookCertificates> {
    const { client, secret: ref, identity, logger } = this.options;
    let lastConflict: unknown;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const secret = await client.get(tlsSecrets, ref);
      const existing = certificatesFromSecret(secret);
      const now = this.now();
      const plan = planRotation(existing, identity, now, this.policy);
      if (plan.action === 'keep') return plan.certificates;
      const issued = await issueCertificates(plan, existing, identity, now, this.policy);
      try {
        if (secret) {
          // resourceVersion makes this fail with 409 if another replica wrote first.
          await client.replace(tlsSecrets, {
            ...secret,
            type: secret.type ?? 'kubernetes.io/tls',
            data: { ...(secret.data ?? {}), ...secretData(issued) },
          });
        } else {
          await client.create(tlsSecrets, {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              name: ref.name,
              namespace: ref.namespace,
              labels: {
                'app.kubernetes.io/name': 'modelroute',
                'app.kubernetes.io/component': 'webhook',
                'app.kubernetes.io/managed-by': 'modelroute-controller',
              },
            },
            type: 'kubernetes.io/tls',
            data: secretData(issued),
          });
        }
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 409) {
          lastConflict = err;
          logger.debug('another replica wrote the webhook certificate first; reading it', {
            secret: `${ref.namespace}/${ref.name}`,
          });
          continue;
        }
        throw err;
      }
      logger.info('issued webhook certificate', {
        secret: `${ref.namespace}/${ref.name}`,
        what: plan.action === 'issue-all' ? 'CA and serving certificate' : 'serving certificate',
        reason: plan.reason,
      });
      return issued;
    }
    throw new Error(
      `could not write the webhook certificate Secret ${ref.namespace}/${ref.name} after ${MAX_ATTEMPTS} conflicts: ${String(lastConflict)}`,
    );
  }
}
