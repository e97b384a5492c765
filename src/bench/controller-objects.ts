// The ModelBackends and ModelRoutes the controller benchmark creates: valid
// by our own schemas (parsed here, defaults applied) and cheap for the
// controller to keep healthy, so pushes and status writes are what is measured.
import {
  modelBackend,
  modelRoute,
  type ModelBackend,
  type ModelBackendInput,
  type ModelRoute,
  type ModelRouteInput,
} from '../api/v1alpha1/index.js';

/**
 * Nothing listens on the discard port: the endpoint only has to be a valid
 * URL, and health checks are off so probes neither fail nor cost anything.
 */
export const BENCH_ENDPOINT = 'http://127.0.0.1:9/v1';

export const backendName = (i: number): string => `backend-${i}`;
export const routeName = (i: number): string => `route-${i}`;

export function benchBackend(namespace: string, i: number): ModelBackend {
  const input: ModelBackendInput = {
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name: backendName(i), namespace },
    spec: {
      provider: 'openai-compatible',
      endpoint: BENCH_ENDPOINT,
      model: `bench-model-${i}`,
      pricing: { inputPerMillion: 0.1 * (1 + (i % 10)), outputPerMillion: 0.4 * (1 + (i % 10)) },
      healthCheck: { enabled: false },
    },
  };
  return modelBackend.parse(input);
}

/**
 * Route i: its own model name (shared names would be a ModelConflict), two
 * weighted backends out of `backends`, spread evenly, and no proxySelector,
 * so every proxy in the namespace serves it.
 */
export function benchRoute(namespace: string, i: number, backends: number): ModelRoute {
  const input: ModelRouteInput = {
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: routeName(i), namespace },
    spec: {
      model: `bench-${i}`,
      rules: [
        {
          name: 'main',
          strategy: 'weighted',
          backendRefs: [
            { name: backendName(i % backends), weight: 3 },
            { name: backendName((i + 1) % backends), weight: 1 },
          ],
        },
      ],
    },
  };
  return modelRoute.parse(input);
}

/** The same route with `alias` as its only alias: a spec change every proxy's table must carry. */
export function withAlias(route: ModelRoute, alias: string): ModelRoute {
  return { ...route, spec: { ...route.spec, aliases: [alias] } };
}
