// Every Secret key a backend's calls use: its API key, its cloud credentials
// and its TLS material. The sidecar injector mounts these and binds each to
// the backend's origin; nothing else of a Secret reaches a proxy.
import type { CompiledBackend } from './table.js';

export interface SecretKeyRef {
  secretName: string;
  key: string;
}

/** The AWS access key Secret's keys (auth.aws.source secret). */
export const AWS_SECRET_KEYS = {
  accessKeyId: 'accessKeyId',
  secretAccessKey: 'secretAccessKey',
  sessionToken: 'sessionToken',
} as const;

/** A kubernetes.io/tls Secret's keys (tls.clientCertificate). */
export const TLS_SECRET_KEYS = { certificate: 'tls.crt', privateKey: 'tls.key' } as const;

export function backendSecretKeys(backend: CompiledBackend): SecretKeyRef[] {
  const refs: SecretKeyRef[] = [];
  if (backend.credentials) refs.push(backend.credentials);
  const { auth, tls } = backend;
  if (auth?.type === 'aws' && auth.secretName !== undefined) {
    for (const key of Object.values(AWS_SECRET_KEYS))
      refs.push({ secretName: auth.secretName, key });
  }
  if ((auth?.type === 'gcp' || auth?.type === 'azure-entra') && auth.secret) refs.push(auth.secret);
  if (tls?.caBundle?.kind === 'Secret')
    refs.push({ secretName: tls.caBundle.name, key: tls.caBundle.key });
  if (tls?.clientCertificate) {
    for (const key of Object.values(TLS_SECRET_KEYS))
      refs.push({ secretName: tls.clientCertificate.secretName, key });
  }
  return refs;
}
