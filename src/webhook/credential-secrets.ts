// Which credentials Secrets an injected proxy must mount: those of the
// backends in the table the controller will push to it, so the sidecar finds
// every API key its routes can use under --credentials-dir/<secret>/<key>.
import type { ModelBackend, ModelRoute } from '../api/v1alpha1/index.js';
import { selects } from '../controller/label-selector.js';
import { compileRoutingTable } from '../routing/compile.js';
import { backendOrigin } from '../proxy/credentials.js';
import { backendSecretKeys } from '../routing/backend-secrets.js';
import type { CompiledBackend } from '../routing/table.js';
import type { CredentialSecrets } from './sidecar-patch.js';

/** What an injected proxy gets for credentials: the Secrets to mount and where each key may go. */
export interface PodCredentials {
  /** Secret name → keys to mount. */
  secrets: CredentialSecrets;
  /**
   * `<secret>/<key>` → origins of the backends that use the key: the proxy
   * sends a mounted key only there, whatever a pushed table says.
   */
  binding: Record<string, string[]>;
  /** ConfigMap name → keys to mount: backends' CA bundles (spec.tls.caBundle.configMapRef). */
  configMaps: CredentialSecrets;
}

/**
 * The credentials of the backends used by the routes in `namespace` whose
 * proxySelector selects a pod with these labels. Compiling the table (rather
 * than walking references) gives exactly what the controller pushes: rule and
 * fallback backends that exist, routes that are not Accepted left out.
 */
export function credentialsFor(
  namespace: string,
  podLabels: Readonly<Record<string, string>>,
  routes: readonly ModelRoute[],
  backends: readonly ModelBackend[],
  clusterDomain?: string,
): PodCredentials {
  const secrets = new Map<string, Set<string>>();
  const configMaps = new Map<string, Set<string>>();
  const binding = new Map<string, Set<string>>();
  const used = credentialedBackends(namespace, podLabels, routes, backends, clusterDomain);
  for (const backend of used) {
    const origin = backendOrigin(backend.baseUrl);
    for (const ref of backendSecretKeys(backend)) {
      secrets.set(ref.secretName, (secrets.get(ref.secretName) ?? new Set()).add(ref.key));
      const id = `${ref.secretName}/${ref.key}`;
      if (origin !== undefined) binding.set(id, (binding.get(id) ?? new Set()).add(origin));
    }
    const bundle = backend.tls?.caBundle;
    if (bundle?.kind === 'ConfigMap')
      configMaps.set(bundle.name, (configMaps.get(bundle.name) ?? new Set()).add(bundle.key));
  }
  return {
    secrets,
    configMaps,
    binding: Object.fromEntries(
      [...binding.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([id, o]) => [id, [...o].sort()]),
    ),
  };
}

/** The backends using a Secret (or a ConfigMap CA bundle) in the table the controller will push to that pod. */
function credentialedBackends(
  namespace: string,
  podLabels: Readonly<Record<string, string>>,
  routes: readonly ModelRoute[],
  backends: readonly ModelBackend[],
  clusterDomain: string | undefined,
): CompiledBackend[] {
  const inNamespace = <T extends { metadata: { namespace?: string | undefined } }>(
    items: readonly T[],
  ) => items.filter((o) => (o.metadata.namespace ?? 'default') === namespace);
  const selected = inNamespace(routes).filter((r) => selects(r.spec.proxySelector, podLabels));
  if (selected.length === 0) return [];
  const table = compileRoutingTable(selected, inNamespace(backends), new Map(), { clusterDomain });
  // Only this namespace's Secrets are ever mounted: keys of a platform
  // namespace's backends are delivered by the controller, in memory only.
  return table.backends.filter(
    (b) =>
      b.namespace === namespace &&
      (backendSecretKeys(b).length > 0 || b.tls?.caBundle?.kind === 'ConfigMap'),
  );
}
