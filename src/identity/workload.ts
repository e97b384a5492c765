// The injected sidecar's caller: the pod it runs in. The sidecar injector
// writes the pod's namespace, ServiceAccount and labels (as admitted) into
// this env var; the pod name comes from the downward API (POD_NAME).
import { z } from 'zod';
import type { Caller } from './caller.js';

export const WORKLOAD_ENV = 'MODELROUTE_WORKLOAD';

export const workloadJson = z.strictObject({
  namespace: z.string().min(1),
  serviceAccount: z.string().min(1),
  labels: z.record(z.string(), z.string()),
});
export type WorkloadJson = z.infer<typeof workloadJson>;

/** Parses the env var; a clear error naming the variable for anything else. */
export function parseWorkload(text: string, pod?: string): Extract<Caller, { kind: 'workload' }> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${WORKLOAD_ENV} is not JSON: ${(err as Error).message}`);
  }
  const parsed = workloadJson.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${WORKLOAD_ENV} must be {"namespace","serviceAccount","labels"} as the sidecar injector writes it: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`,
    );
  }
  return { kind: 'workload', ...parsed.data, ...(pod ? { pod } : {}) };
}
