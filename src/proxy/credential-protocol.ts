// The wire contract of credential delivery, imported by both sides: the
// controller's `POST /v1/credentials` (src/controller/credential-server.ts)
// and the proxy's client (src/proxy/delivered-credentials.ts). Written once so
// the two cannot drift (the admin stats body once did).
import { z } from 'zod';

export const CREDENTIALS_PATH = '/v1/credentials';
/** The audience of the projected ServiceAccount token a proxy presents. */
export const CREDENTIALS_TOKEN_AUDIENCE = 'modelroute-controller';
/** Where the injector mounts that token (the file is `token`). */
export const CREDENTIALS_TOKEN_DIR = '/var/run/secrets/modelroute';
export const DEFAULT_CREDENTIALS_TOKEN_FILE = `${CREDENTIALS_TOKEN_DIR}/token`;
/** How often a proxy asks again: a rotated Secret reaches every proxy within this. */
export const DEFAULT_REFRESH_AFTER_SECONDS = 300;

/** `<namespace>/<name>` of a ModelBackend, as in the routing table. */
const backendId = z
  .string()
  .max(320)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, {
    message: 'a backend id is "<namespace>/<name>" of a ModelBackend',
  });

export const credentialsRequest = z.strictObject({
  // Empty is a request too: a proxy asks once at start, before any table, for its admin token.
  backendIds: z.array(backendId).max(256),
});
export type CredentialsRequest = z.infer<typeof credentialsRequest>;

export const deliveredCredential = z.strictObject({
  backendId,
  /** scheme://host:port the key may be sent to: the backend's endpoint when delivered. */
  origin: z.string().min(1),
  secretName: z.string().min(1),
  key: z.string().min(1),
  apiKey: z.string().min(1),
});
export type DeliveredCredential = z.infer<typeof deliveredCredential>;

export const refusedCredential = z.strictObject({ backendId, reason: z.string().min(1) });
export type RefusedCredential = z.infer<typeof refusedCredential>;

export const credentialsResponse = z.strictObject({
  credentials: z.array(deliveredCredential),
  refused: z.array(refusedCredential),
  refreshAfterSeconds: z.int().min(1).max(86_400),
  /**
   * The calling pod's own admin token (podAdminToken), for a pod the injector
   * marked with ADMIN_TOKEN_ANNOTATION; absent for any other caller.
   */
  adminToken: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { message: 'an admin token is 64 hex digits' })
    .optional(),
});
export type CredentialsResponse = z.infer<typeof credentialsResponse>;
