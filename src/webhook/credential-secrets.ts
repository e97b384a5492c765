// Which credentials Secrets an injected proxy must mount: those of the
// backends in the table the controller will push to it, so the sidecar finds
// every API key its routes can use under --credentials-dir/<secret>/<key>.
import type { ModelBackend, ModelRoute } from '../api/v1alpha1/index.js';
import { selects } from '../controller/label-selector.js';
import { compileRoutingTable } from '../routing/compile.js';
import type { CredentialSecrets } from './sidecar-patch.js';

/**
 * The Secrets (name → keys) of the backends used by the routes in `namespace`
 * whose proxySelector selects a pod with these labels. Compiling the table
 * (rather than walking references) gives exactly what the controller pushes:
 * rule and fallback backends that exist, conflicting routes left out.
 */
export function credentialSecretsFor(
  namespace: string,
  podLabels: Readonly<Record<string, string>>,
  routes: readonly ModelRoute[],
  backends: readonly ModelBackend[],
): CredentialSecrets {
  const inNamespace = <T extends { metadata: { namespace?: string | undefined } }>(
    items: readonly T[],
  ) => items.filter((o) => (o.metadata.namespace ?? 'default') === namespace);
  const selected = inNamespace(routes).filter((r) => selects(r.spec.proxySelector, podLabels));
  if (selected.length === 0) return new Map();
  const table = compileRoutingTable(selected, inNamespace(backends));
  const secrets = new Map<string, Set<string>>();
  for (const backend of table.backends) {
    const ref = backend.credentials;
    if (!ref) continue;
    const keys = secrets.get(ref.secretName) ?? new Set<string>();
    keys.add(ref.key);
    secrets.set(ref.secretName, keys);
  }
  return secrets;
}
