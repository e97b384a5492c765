// Sidecar injection: the mutating admission webhook every controller replica serves.
//
// What it does. A Pod created with the label `modelroute.io/inject: "true"`
// (the webhook configuration's objectSelector, so no other pod ever waits on
// us) gets the `modelroute-proxy` container, the `modelroute.io/proxy: "true"`
// label and the `modelroute.io/admin-port` annotation the controller looks for,
// an emptyDir for the last good routing table, and one read-only volume per
// credentials Secret that the backends of its routes reference (routes in the
// pod's namespace whose proxySelector selects the pod), mounted at
// `--credentials-dir/<secret>`. Volumes are fixed at creation: a pod created
// before a route that needs a new Secret must be restarted to mount it.
//
// The admin token. With the credential channel on (the injector sets
// --credentials-url once it serves a certificate) the pod references no
// admin-token Secret: it is annotated `modelroute.io/admin-token: delivered`,
// its proxy asks the controller at start for its own token (podAdminToken, see
// credential-server.ts) and keeps it in memory, and the controller pushes it
// with that token. Otherwise (no certificate yet) the proxy reads the Secret
// `--admin-token-secret` (key `--admin-token-key`) in the *pod's* namespace as
// before: a secretKeyRef cannot cross namespaces, so that namespace needs a
// copy; when it is missing, the pod is still admitted, kubectl prints a warning
// with the command to create it, and the sidecar waits
// (CreateContainerConfigError) until it exists.
//
// Failure policy: recommend `Fail` (the chart's default). Only pods that asked
// for a sidecar are affected. With `Fail`, while no controller replica answers
// such a pod is refused and its ReplicaSet retries until one does: loud, and it
// heals by itself. With `Ignore` it would start without a sidecar, and the
// app's calls to its local proxy would fail until someone recreates the pod:
// a silent, lasting failure. Run 2+ controller replicas (every replica serves
// the webhook, leader or not) and keep `timeoutSeconds` short. Choose `Ignore`
// only where pod creation must never depend on modelroute.
//
// Certificates: the controller is its own CA (see cert-authority.ts) and keeps
// CA, key and serving certificate in one Secret shared by all replicas
// (serving-certificate.ts), rotating them before they expire; each replica
// re-reads it every few minutes, writes the CA into the webhook configuration's
// caBundle (ca-bundle.ts) before serving a certificate from a new CA, and swaps
// the new certificate in without restarting. cert-manager is not needed.
import { isIP } from 'node:net';
import type { ModelBackend, ModelBackendGrant, ModelRoute } from '../api/v1alpha1/index.js';
import type { ProxyPodFacts } from '../controller/credential-server.js';
import { createKubeClient } from '../k8s/kube-client.js';
import { secrets } from '../k8s/kinds.js';
import type { TokenReviewer } from '../k8s/token-review.js';
import type { KubeClient, KubePatcher } from '../k8s/types.js';
import { CREDENTIALS_PATH } from '../proxy/credential-protocol.js';
import type { CompiledBackend } from '../routing/table.js';
import type { Logger } from '../telemetry/logger.js';
import type { AdmissionDecision, AdmissionRequest } from './admission-review.js';
import {
  HttpError,
  startAdmissionServer,
  type RunningAdmissionServer,
} from './admission-server.js';
import { syncCaBundle } from './ca-bundle.js';
import { credentialRoute } from './credential-route.js';
import type { CertificatePolicy, ServingIdentity } from './cert-authority.js';
import { credentialsFor } from './credential-secrets.js';
import { ServingCertificateStore } from './serving-certificate.js';
import {
  admittedPod,
  planSidecarInjection,
  PROXY_LABEL,
  type SidecarConfig,
} from './sidecar-patch.js';

export const MUTATE_PODS_PATH = '/mutate-pods';

/** Everything `modelroute controller --webhook-*` configures. */
export interface SidecarInjectorSettings {
  host: string;
  port: number;
  /** The Service in front of the controller pods: the serving certificate's DNS names. */
  serviceName: string;
  /** The controller's namespace: the Service's and the certificate Secret's. */
  namespace: string;
  secretName: string;
  /** The MutatingWebhookConfiguration whose caBundle we keep current. */
  configName: string;
  /** More names for the certificate (IPs or DNS names), e.g. 127.0.0.1 for a URL clientConfig. */
  extraSans?: readonly string[] | undefined;
  clusterDomain?: string | undefined;
  sidecar: SidecarConfig;
  /** How often the certificate Secret and the caBundle are checked (default 5 min). */
  resyncIntervalMs?: number | undefined;
  /** First retry after a failed check; doubles up to the resync interval (default 5 s). */
  retryIntervalMs?: number | undefined;
  policy?: CertificatePolicy | undefined;
  /**
   * Namespaces whose backends' API keys `POST /v1/credentials` delivers to
   * proxies (--credential-namespaces; default: `namespace`, the controller's own).
   */
  credentialNamespaces?: readonly string[] | undefined;
  /**
   * The credential endpoint as injected proxies reach it (default
   * https://<serviceName>.<namespace>.svc:443/v1/credentials, the chart's Service).
   */
  credentialsUrl?: string | undefined;
  /** How often proxies ask again for delivered keys (default 300 s): a rotation's latest arrival. */
  credentialRefreshSeconds?: number | undefined;
}

export type InjectorKubeClient = Pick<KubeClient, 'get' | 'create' | 'replace' | 'exists'> &
  KubePatcher;

export interface SidecarInjectorDeps {
  kubeconfigPath?: string | undefined;
  client?: InjectorKubeClient | undefined;
  logger: Logger;
  /** The controller's caches. */
  routes(namespace: string): ModelRoute[];
  backends(namespace: string): ModelBackend[];
  /** ModelBackendGrants of a namespace (they decide which other namespaces may use its backends). */
  grants?(namespace: string): ModelBackendGrant[];
  /** False until the caches have their first list: pods are refused (503) until then. */
  synced(): boolean;
  /** The one namespace the controller watches, if it watches only one. */
  watchedNamespace?: string | undefined;
  now?: () => number;
  /** The fleet admin token: the credential endpoint hands marked pods their own derivation. */
  adminToken?: string | undefined;
  /** Checks proxies' tokens for the credential endpoint (default: TokenReview on the API server). */
  tokenReviewer?: TokenReviewer | undefined;
  /** The backends of the table a proxy pod gets (default: podTableBackends on the caches). */
  tableBackends?: ((pod: ProxyPodFacts) => Promise<readonly CompiledBackend[]>) | undefined;
}

export interface RunningSidecarInjector {
  readonly url: string;
  close(): Promise<void>;
}

/** The serving certificate's names: the Service's in-cluster names plus any extras. */
export function servingIdentity(settings: SidecarInjectorSettings): ServingIdentity {
  const { serviceName: svc, namespace: ns } = settings;
  const domain = settings.clusterDomain ?? 'cluster.local';
  const extras = settings.extraSans ?? [];
  return {
    dnsNames: [
      svc,
      `${svc}.${ns}`,
      `${svc}.${ns}.svc`,
      `${svc}.${ns}.svc.${domain}`,
      ...extras.filter((n) => isIP(n) === 0),
    ],
    ipAddresses: extras.filter((n) => isIP(n) !== 0),
  };
}

const WARNING_LOOKUP_MS = 2_000;

export async function startSidecarInjector(
  settings: SidecarInjectorSettings,
  deps: SidecarInjectorDeps,
): Promise<RunningSidecarInjector> {
  const { logger } = deps;
  const client =
    deps.client ??
    createKubeClient({ kubeconfigPath: deps.kubeconfigPath, userAgent: 'modelroute-webhook' });

  /** Warnings kubectl shows for Secrets the sidecar needs that are not in the namespace. */
  const missingSecretWarnings = async (
    namespace: string,
    credentialSecrets: string[],
    /** False when the admin token is delivered: the pod references no token Secret. */
    needsTokenSecret: boolean,
  ): Promise<string[]> => {
    const token = settings.sidecar.adminTokenSecret;
    const check = async (name: string) =>
      (await client.exists(secrets, { namespace, name })) ? [] : [name];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string[]>((resolve) => {
      timer = setTimeout(() => resolve([]), WARNING_LOOKUP_MS);
    });
    // Best effort: admission must not fail because a lookup did.
    const missing = await Promise.race([
      Promise.all([...(needsTokenSecret ? [token] : []), ...credentialSecrets].map(check)).then(
        (m) => m.flat(),
      ),
      timeout,
    ])
      .catch(() => [])
      .finally(() => clearTimeout(timer));
    return missing.map((name) =>
      name === token
        ? `modelroute: Secret "${token}" (key "${settings.sidecar.adminTokenKey}") is not in namespace ${namespace}; the sidecar waits for it. Copy the controller's admin token: kubectl -n ${namespace} create secret generic ${token} --from-literal=${settings.sidecar.adminTokenKey}=<token>`
        : `modelroute: Secret "${name}" is not in namespace ${namespace}; backends that use it will fail until it exists and the pod is recreated`,
    );
  };

  const credentialsUrl =
    settings.credentialsUrl ??
    `https://${settings.serviceName}.${settings.namespace}.svc:443${CREDENTIALS_PATH}`;
  /** The CA of the certificate being served: what injected proxies verify us with. */
  let servedTrustBundle: string | undefined;

  const mutatePods = async (request: AdmissionRequest): Promise<AdmissionDecision> => {
    if (
      request.resource.group !== '' ||
      request.resource.resource !== 'pods' ||
      request.subResource ||
      request.operation !== 'CREATE'
    )
      return { allowed: true };
    if (!deps.synced())
      // The failure policy decides: a pod injected now would miss its credentials volumes.
      throw new HttpError(503, 'the controller has not synced its caches yet');
    const parsed = admittedPod.safeParse(request.object);
    if (!parsed.success)
      return {
        allowed: false,
        code: 400,
        message: `modelroute sidecar injection: the object is not a Pod: ${parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
      };
    const pod = parsed.data;
    const namespace = request.namespace ?? 'default';
    const podName = pod.metadata.name ?? `${pod.metadata.generateName ?? ''}*`;
    const labels = { ...(pod.metadata.labels ?? {}), [PROXY_LABEL]: 'true' };
    const {
      secrets: credentials,
      binding,
      configMaps,
    } = credentialsFor(
      namespace,
      labels,
      deps.routes(namespace),
      deps.backends(namespace),
      settings.clusterDomain,
    );
    const sidecar = {
      ...settings.sidecar,
      // With the CA we serve now; no CA yet means no handshake could have reached us.
      credentialDelivery:
        servedTrustBundle === undefined
          ? undefined
          : { url: credentialsUrl, ca: servedTrustBundle },
    };
    const plan = planSidecarInjection(pod, sidecar, credentials, binding, namespace, configMaps);
    if (plan.action === 'skip') {
      logger.debug('sidecar not injected', { namespace, pod: podName, reason: plan.reason });
      return { allowed: true };
    }
    if (plan.action === 'reject') {
      logger.info('pod refused', { namespace, pod: podName, reason: plan.message });
      return {
        allowed: false,
        code: 400,
        message: `modelroute sidecar injection: ${plan.message}`,
      };
    }
    const warnings = await missingSecretWarnings(
      namespace,
      [...credentials.keys()],
      sidecar.credentialDelivery === undefined,
    );
    if (deps.watchedNamespace !== undefined && deps.watchedNamespace !== namespace)
      warnings.push(
        `modelroute: the controller watches only namespace ${deps.watchedNamespace}; this sidecar in ${namespace} gets no routes`,
      );
    logger.info('sidecar injected', {
      namespace,
      pod: podName,
      mounted: [...credentials.keys()].sort(),
      dryRun: request.dryRun ?? false,
    });
    return { allowed: true, patch: plan.operations, warnings };
  };

  const server: RunningAdmissionServer = await startAdmissionServer({
    host: settings.host,
    port: settings.port,
    handlers: { [MUTATE_PODS_PATH]: mutatePods },
    routes: { [CREDENTIALS_PATH]: credentialRoute(settings, deps, client, logger) },
    logger,
  });

  const store = new ServingCertificateStore({
    client,
    secret: { namespace: settings.namespace, name: settings.secretName },
    identity: servingIdentity(settings),
    logger,
    now: deps.now,
    policy: settings.policy,
  });
  let servedCert: string | undefined;
  let caBundleSynced = false;
  /** One check: the Secret (rotating what is due), then the caBundle, then what we serve. */
  const sync = async (): Promise<void> => {
    const certs = await store.current();
    // The caBundle first: after a CA rotation the API server must trust the new CA
    // before we present a certificate it signed.
    let caError: Error | undefined;
    try {
      const synced = await syncCaBundle(client, settings.configName, certs.trustBundle);
      if (synced.result === 'updated')
        logger.info('webhook caBundle updated', {
          configuration: settings.configName,
          webhooks: synced.webhooks,
        });
      caBundleSynced = synced.result !== 'missing';
      if (synced.result === 'missing')
        caError = new Error(
          `MutatingWebhookConfiguration ${settings.configName} not found; its caBundle is set once it exists`,
        );
    } catch (err) {
      caError = err instanceof Error ? err : new Error(String(err));
    }
    if (certs.cert !== servedCert) {
      server.setCertificate(certs);
      servedCert = certs.cert;
      servedTrustBundle = certs.trustBundle;
      logger.info('serving webhook certificate', { url: server.url });
    }
    if (caError) throw caError;
  };

  const resyncMs = settings.resyncIntervalMs ?? 5 * 60_000;
  const firstRetryMs = settings.retryIntervalMs ?? 5_000;
  let retryMs = firstRetryMs;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const loop = (): void => {
    void sync()
      .then(() => {
        retryMs = firstRetryMs;
        return resyncMs;
      })
      .catch((err: unknown) => {
        logger.warn('webhook certificate or caBundle check failed; retrying', {
          error: err,
          retryInMs: retryMs,
          serving: servedCert !== undefined,
          caBundleSynced,
        });
        const wait = retryMs;
        retryMs = Math.min(retryMs * 2, resyncMs);
        return wait;
      })
      .then((wait) => {
        if (!stopped) timer = setTimeout(loop, wait);
      });
  };
  loop();

  return {
    url: `${server.url}${MUTATE_PODS_PATH}`,
    async close() {
      stopped = true;
      clearTimeout(timer);
      await server.close();
    },
  };
}
