// A cost-quality route with a strongShare over a cheap and a strong backend,
// and a controller leading with short intervals, for the control-plane tests
// of live strongShare calibration (issue 12).
import type { RunningController } from '../../src/controller/controller.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createNamespace, installCRDs } from './cluster.js';
import { backendObject, ClusterHandle, startFastReplica } from './controller-env.js';
import { eventually } from './eventually.js';

export const ROUTE = 'tiered';
export const RULE = 'by-difficulty';

/** What `kubectl get mr -o json` shows of status.strongShare. */
export interface StrongShareStatus {
  status?: {
    strongShare?: {
      target: number;
      realized: number;
      threshold: number;
      decisions: number;
      window: string;
    };
  };
}

/**
 * Backends `weak` and `strong` and the route ROUTE whose rule RULE sends
 * `strongShare` of its requests to the strong tier. The cheap tier is the
 * cheapest backend, the strong tier the strongest: both are priced.
 */
export function strongShareObjects(
  sims: { weak: SimulatedBackend; strong: SimulatedBackend },
  strongShare: number,
): object[] {
  const tiered = (name: 'weak' | 'strong', quality: number, perMillion: number) => {
    const b = backendObject(name, sims[name]) as { spec: object };
    const pricing = { inputPerMillion: perMillion, outputPerMillion: 4 * perMillion };
    return { ...b, spec: { ...b.spec, quality, pricing } };
  };
  return [
    tiered('weak', 0.5, 0.15),
    tiered('strong', 0.9, 2.5),
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: ROUTE },
      spec: {
        model: ROUTE,
        rules: [
          {
            name: RULE,
            strategy: 'cost-quality',
            costQuality: { strongShare },
            backendRefs: [{ name: 'weak' }, { name: 'strong' }],
          },
        ],
      },
    },
  ];
}

export interface StrongShareRoute {
  cluster: ClusterHandle;
  /** `<namespace>/<ROUTE>`, as tables and proxy stats name it. */
  routeId: string;
  close(): Promise<void>;
}

/** A fresh namespace holding strongShareObjects, its backends simulated. */
export async function setUpStrongShareRoute(
  namespacePrefix: string,
  strongShare: number,
): Promise<StrongShareRoute> {
  installCRDs();
  const cluster = new ClusterHandle(createNamespace(namespacePrefix));
  const sims = {
    weak: await startSimulatedBackend({ models: ['weak-upstream'] }),
    strong: await startSimulatedBackend({ models: ['strong-upstream'] }),
  };
  cluster.apply(strongShareObjects(sims, strongShare));
  return {
    cluster,
    routeId: `${cluster.namespace}/${ROUTE}`,
    close: async () => {
      await Promise.all([sims.weak.close(), sims.strong.close()]);
    },
  };
}

/** A controller for the cluster's namespace, leading, reading stats every 300 ms. */
export async function startLeader(
  cluster: ClusterHandle,
  identity: string,
): Promise<RunningController> {
  const c = await startFastReplica(cluster, identity);
  await eventually(() => expect(c.isLeader).toBe(true), 20_000);
  return c;
}
