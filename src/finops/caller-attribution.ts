// Which namespace and workload a verified caller's traffic is attributed to.
// Never a header the client wrote: only what identity verified.
import type { Caller } from '../identity/caller.js';

/** Labels that name an app, most specific first (the Kubernetes recommended one leads). */
const APP_LABELS = ['app.kubernetes.io/name', 'app', 'k8s-app'] as const;

export function callerAttribution(caller: Caller): { namespace: string; workload: string } {
  switch (caller.kind) {
    case 'workload': {
      const app = APP_LABELS.map((l) => caller.labels[l]).find((v) => v !== undefined && v !== '');
      return { namespace: caller.namespace, workload: app ?? caller.serviceAccount };
    }
    case 'service-account':
      return { namespace: caller.namespace, workload: caller.name };
    case 'api-key': {
      // A key's tenant id is "namespace/name".
      const slash = caller.tenantId.indexOf('/');
      return {
        namespace: slash > 0 ? caller.tenantId.slice(0, slash) : '',
        workload: `apikey:${caller.keyId}`,
      };
    }
    case 'local':
      return { namespace: '', workload: 'local' };
  }
}
