// Whether a route may use a backend of another namespace: only when a
// ModelBackendGrant in the backend's namespace lets the route's namespace in
// (Gateway API's ReferenceGrant pattern). The backend's owners decide, never
// the route's. Shared by checkSemantics (status, validate, local mode) and
// compileRoutingTable (what proxies get), so the two never disagree.
import type { ModelBackendGrant } from '../api/v1alpha1/index.js';

/** A backendRef as routes write it: `namespace` absent means the route's own. */
export interface BackendRefLike {
  name: string;
  namespace?: string | undefined;
}

const nsOf = (obj: { metadata: { namespace?: string | undefined } }): string =>
  obj.metadata.namespace ?? 'default';

/** The `<namespace>/<name>` id a ref points at, from a route of `routeNamespace`. */
export function refBackendId(routeNamespace: string, ref: BackendRefLike): string {
  return `${ref.namespace ?? routeNamespace}/${ref.name}`;
}

/**
 * Grants by the namespace they live in (the backends' namespace), built once
 * per compile: a lookup per ref instead of a scan of every grant.
 */
export class GrantIndex {
  private readonly byNamespace = new Map<string, ModelBackendGrant[]>();

  constructor(grants: readonly ModelBackendGrant[] = []) {
    for (const grant of grants) {
      const ns = nsOf(grant);
      const list = this.byNamespace.get(ns);
      if (list) list.push(grant);
      else this.byNamespace.set(ns, [grant]);
    }
  }

  /** The grant that lets `routeNamespace` use `backendNamespace/backendName`, if any. */
  grantFor(
    routeNamespace: string,
    backendNamespace: string,
    backendName: string,
  ): ModelBackendGrant | undefined {
    return this.byNamespace
      .get(backendNamespace)
      ?.find(
        (g) =>
          g.spec.from.some((f) => f.namespace === routeNamespace) &&
          (g.spec.backends === undefined || g.spec.backends.includes(backendName)),
      );
  }

  /** Same-namespace refs always are; others need a grant. */
  permits(routeNamespace: string, ref: BackendRefLike): boolean {
    const backendNamespace = ref.namespace ?? routeNamespace;
    return (
      backendNamespace === routeNamespace ||
      this.grantFor(routeNamespace, backendNamespace, ref.name) !== undefined
    );
  }
}

/** What to tell a route's owner when a ref is refused: the grant to ask for, ready to apply. */
export function refNotPermittedMessage(routeNamespace: string, ref: BackendRefLike): string {
  const backendNamespace = ref.namespace ?? routeNamespace;
  return (
    `ModelBackend ${backendNamespace}/${ref.name} is in another namespace and no ModelBackendGrant in ${backendNamespace} ` +
    `lets namespace ${routeNamespace} use it; ask its owners to kubectl apply a ModelBackendGrant in namespace ${backendNamespace} ` +
    `with spec.from: [{namespace: ${routeNamespace}}] (and spec.backends listing ${ref.name}, or none for all)`
  );
}
