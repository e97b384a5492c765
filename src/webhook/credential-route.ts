// `POST /v1/credentials` on the webhook's listener: the credential server
// (src/controller/credential-server.ts) wired to the cluster: the controller's
// client for Pods and Secrets, TokenReview, and the tables its caches compile.
import { createCredentialServer, type SecretRead } from '../controller/credential-server.js';
import { podTableBackends } from '../controller/pod-table-backends.js';
import { pods } from '../k8s/kinds.js';
import { secretData } from '../k8s/secret-data.js';
import { createTokenReviewer } from '../k8s/token-review.js';
import { KubeApiError, type KubeClient } from '../k8s/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { JsonRouteHandler } from './admission-server.js';
import type { SidecarInjectorDeps, SidecarInjectorSettings } from './sidecar-injector.js';

/** A Secret's values; RBAC refusing the read is an answer (403), not a failure. */
async function readSecretValues(
  client: Pick<KubeClient, 'get'>,
  namespace: string,
  name: string,
): Promise<SecretRead> {
  try {
    const secret = await client.get(secretData, { namespace, name });
    return secret ? { ok: true, values: secret.values } : { ok: false, reason: 'not-found' };
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 403)
      return { ok: false, reason: 'forbidden' };
    throw err;
  }
}

export function credentialRoute(
  settings: SidecarInjectorSettings,
  deps: SidecarInjectorDeps,
  client: Pick<KubeClient, 'get'>,
  logger: Logger,
): JsonRouteHandler {
  const credentialNamespaces = new Set(settings.credentialNamespaces ?? [settings.namespace]);
  const serve = createCredentialServer({
    reviewer: deps.tokenReviewer ?? createTokenReviewer({ kubeconfigPath: deps.kubeconfigPath }),
    getPod: async (namespace, name) => {
      const pod = await client.get(pods, { namespace, name });
      return (
        pod && {
          namespace,
          name,
          uid: pod.metadata.uid,
          labels: pod.metadata.labels ?? {},
          annotations: pod.metadata.annotations ?? {},
        }
      );
    },
    readSecret: (namespace, name) => readSecretValues(client, namespace, name),
    tableBackends:
      deps.tableBackends ??
      ((pod) =>
        Promise.resolve(
          podTableBackends({
            pod,
            routes: deps.routes(pod.namespace),
            backends: [...new Set([pod.namespace, ...credentialNamespaces])].flatMap((ns) =>
              deps.backends(ns),
            ),
            grants: [...credentialNamespaces].flatMap((ns) => deps.grants?.(ns) ?? []),
            clusterDomain: settings.clusterDomain,
          }),
        )),
    credentialNamespaces,
    adminToken: deps.adminToken,
    refreshAfterSeconds: settings.credentialRefreshSeconds,
    logger: logger.child({ component: 'credentials' }),
    now: deps.now ?? Date.now,
  });
  return ({ headers, body }) =>
    deps.synced()
      ? serve({ authorization: headers.authorization, body })
      : // Before the first list every table would look empty: refuse softly, the proxy retries.
        Promise.resolve({
          status: 503,
          body: { error: 'the controller has not synced its caches yet; retry shortly' },
        });
}
