// The proxies' admin token when nobody supplied one: the controller generates
// it once, keeps it in a Secret of its own namespace and reads it back on every
// start, so `helm template` renders no random value (GitOps tools see no
// drift) and the token never changes under running proxies. The gateway (and
// sidecars injected without the credential channel) read that Secret by
// secretKeyRef, as they read a Secret the user created.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { kubeMeta } from '../k8s/kinds.js';
import { KubeApiError, type KubeClient, type ObjectRef, type ResourceKind } from '../k8s/types.js';
import type { Logger } from '../telemetry/logger.js';

/** The server-side check in src/cli/controller.ts and the proxies' (server-flags.ts) agree on this. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;
/** Creating races another replica at most this often before it has written the Secret. */
const MAX_ATTEMPTS = 3;

/** Who wrote the Secret, so `kubectl get secret -l` finds it and nobody mistakes it for Helm's. */
export const ADMIN_TOKEN_SECRET_LABELS = {
  'app.kubernetes.io/name': 'modelroute',
  'app.kubernetes.io/component': 'admin-token',
  'app.kubernetes.io/managed-by': 'modelroute-controller',
} as const;

const adminTokenSecretSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: kubeMeta,
  type: z.string().optional(),
  data: z.record(z.string(), z.string()).nullish(),
});
type AdminTokenSecret = z.infer<typeof adminTokenSecretSchema>;

/** The admin-token Secret read with its data: its value is what the controller pushes with. Never logged. */
const adminTokenSecrets: ResourceKind<AdminTokenSecret> = {
  group: '',
  version: 'v1',
  plural: 'secrets',
  kind: 'Secret',
  namespaced: true,
  schema: adminTokenSecretSchema,
  readsSecretData: true,
};

/** 24 random bytes as 48 hex characters: 192 bits, and safe in a header, a file and an env value. */
export const randomAdminToken = (): string => randomBytes(24).toString('hex');

export interface AdminTokenSecretOptions {
  client: Pick<KubeClient, 'get' | 'create'>;
  /** In the controller's namespace (the chart's release namespace). */
  secret: ObjectRef;
  key: string;
  logger: Logger;
  /** Injected so tests know the token; default randomAdminToken. */
  generateToken?: () => string;
}

/** The token the Secret holds; an error that says how to fix a Secret that holds none. */
function tokenIn(secret: AdminTokenSecret, ref: ObjectRef, key: string): string {
  const where = `Secret ${ref.namespace}/${ref.name}`;
  const b64 = secret.data?.[key];
  if (b64 === undefined)
    throw new Error(
      `${where} has no key "${key}": put the admin token there (at least ${MIN_ADMIN_TOKEN_LENGTH} characters), or delete the Secret and the controller creates it with a random token`,
    );
  const token = Buffer.from(b64, 'base64').toString('utf8').trim();
  if (token.length < MIN_ADMIN_TOKEN_LENGTH)
    throw new Error(
      `${where} key "${key}" holds ${token.length} characters; the admin token needs at least ${MIN_ADMIN_TOKEN_LENGTH}: replace it, or delete the Secret and the controller creates it with a random token`,
    );
  return token;
}

function forbidden(err: unknown, verb: string, ref: ObjectRef): Error | undefined {
  if (!(err instanceof KubeApiError) || err.status !== 403) return undefined;
  return new Error(
    `the controller may not ${verb} Secret ${ref.namespace}/${ref.name} (${err.message}): the chart grants it in the Role <release>-controller-admin-token; with manifests of your own, grant get on that Secret and create on secrets in ${ref.namespace}`,
  );
}

/**
 * The admin token from the Secret, creating the Secret with a fresh random
 * token when it does not exist. An existing Secret is never overwritten: it
 * may be the user's, and proxies may already hold its token. Replicas that
 * start together settle on the first one's token (create → 409 → read).
 */
export async function ensureAdminTokenSecret(options: AdminTokenSecretOptions): Promise<string> {
  const { client, secret: ref, key, logger } = options;
  const generate = options.generateToken ?? randomAdminToken;
  for (let attempt = 1; ; attempt++) {
    let existing: AdminTokenSecret | undefined;
    try {
      existing = await client.get(adminTokenSecrets, ref);
    } catch (err) {
      throw forbidden(err, 'get', ref) ?? err;
    }
    if (existing) return tokenIn(existing, ref, key);
    const token = generate();
    try {
      await client.create(adminTokenSecrets, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: ref.name, namespace: ref.namespace, labels: ADMIN_TOKEN_SECRET_LABELS },
        type: 'Opaque',
        data: { [key]: Buffer.from(token, 'utf8').toString('base64') },
      });
      logger.info('created the admin-token Secret with a random token', {
        secret: `${ref.namespace}/${ref.name}`,
        key,
      });
      return token;
    } catch (err) {
      const raced = err instanceof KubeApiError && err.status === 409;
      if (!raced) throw forbidden(err, 'create', ref) ?? err;
      if (attempt >= MAX_ATTEMPTS)
        throw new Error(
          `Secret ${ref.namespace}/${ref.name} was created by someone else ${attempt} times but could not be read back: ${err.message}`,
        );
      logger.debug('another replica created the admin-token Secret first; reading it', {
        secret: `${ref.namespace}/${ref.name}`,
      });
    }
  }
}
