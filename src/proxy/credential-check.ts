// Which credentialed backends of the running table this proxy cannot get an
// API key for, with why and the fix, for the controller to show in route
// status (`/admin/v1/stats` → `credentials.unavailable`). The controller's own
// check (controller/credential-availability.ts) sees only its side: a
// same-namespace Secret is mounted at admission, so a ModelBackend (or a
// secretRef) added after the pod started has no key in this pod, and only the
// pod can tell. Reasons name Secrets, keys and backends, never a value.
import type { CompiledBackend, RoutingTable } from '../routing/table.js';
import {
  CredentialDeliveryRefusedError,
  CredentialNotFoundError,
  CredentialOriginRefusedError,
  CredentialsPendingError,
  credentialEnvName,
  type CredentialResolver,
} from './credentials.js';

export interface UnavailableCredential {
  backendId: string;
  /** Why, and the fix; secret-free. */
  reason: string;
}

export interface CredentialCheckOptions {
  resolver: CredentialResolver;
  /** The pod's namespace, for the fix (kubectl); absent outside Kubernetes. */
  namespace?: string | undefined;
}

/** Why `err` (thrown by `apiKeyFor`) leaves the backend without a key, and the fix. */
export function unavailableReason(
  err: unknown,
  pod: Pick<CredentialCheckOptions, 'namespace'> = {},
): string {
  if (err instanceof CredentialNotFoundError) {
    const what = `Secret "${err.secretName}" key "${err.key}"`;
    if (!err.mounted)
      return `${what} is not in the proxy's environment (${credentialEnvName(err.secretName, err.key)}); set it or start the proxy with --credentials-dir`;
    const ns = pod.namespace ?? '<namespace>';
    return `${what} is not mounted in this pod (it was admitted before a backend referenced it, or the Secret lacks the key): restart the pod so the sidecar injector mounts it (kubectl rollout restart deployment/<its deployment> -n ${ns})`;
  }
  if (err instanceof CredentialDeliveryRefusedError)
    return `the controller refused delivery: ${err.reason}`;
  // Its own messages name the Secret, key, origins and the fix (restart), never a value.
  if (err instanceof CredentialOriginRefusedError) return err.message;
  if (err instanceof CredentialsPendingError)
    return 'its API key is being fetched from the modelroute controller';
  // Anything else may carry text we did not write: say only that it failed.
  return 'its API key could not be read';
}

/**
 * Kept per table: checked in full when a table is applied or delivered keys
 * change, and the backends found unavailable are checked again at each
 * report, so a key that appears (the kubelet updates a mounted Secret in
 * place; a delivery arrives) clears without a new table. An origin refusal
 * is not re-checked: the binding is fixed at admission, and each check would
 * count and log a refusal that sent nothing.
 */
export class CredentialCheck {
  private backends: readonly CompiledBackend[] = [];
  private readonly unavailable = new Map<
    string,
    { backend: CompiledBackend; reason: string; final: boolean }
  >();

  constructor(private readonly options: CredentialCheckOptions) {}

  /** A table was applied: check every credentialed backend it uses. */
  onTable(table: Pick<RoutingTable, 'backends'>): void {
    this.backends = table.backends.filter((b) => b.credentials !== undefined);
    this.checkAll();
  }

  /** Delivered keys changed (a delivery, a refusal, a failed fetch): check again. */
  recheck(): void {
    this.checkAll();
  }

  /** Backends this proxy cannot get a key for now, by id. */
  report(): UnavailableCredential[] {
    for (const [id, entry] of [...this.unavailable]) {
      if (entry.final) continue;
      const reason = this.check(entry.backend);
      if (reason === undefined) this.unavailable.delete(id);
      else entry.reason = reason.reason;
    }
    return [...this.unavailable]
      .map(([backendId, { reason }]) => ({ backendId, reason }))
      .sort((a, b) => a.backendId.localeCompare(b.backendId));
  }

  private checkAll(): void {
    this.unavailable.clear();
    for (const backend of this.backends) {
      const found = this.check(backend);
      if (found) this.unavailable.set(backend.id, { backend, ...found });
    }
  }

  private check(backend: CompiledBackend): { reason: string; final: boolean } | undefined {
    try {
      // The value is dropped here: only whether there is one matters.
      this.options.resolver.apiKeyFor(backend);
      return undefined;
    } catch (err) {
      return {
        reason: unavailableReason(err, this.options),
        final: err instanceof CredentialOriginRefusedError,
      };
    }
  }
}
