// Objects the API server stored but the controller's schema refuses. They
// cannot be served (no table holds them), and the object's own status says
// so, with the field path and the reason, so `kubectl get mr` shows READY
// False InvalidSpec instead of a stale True (issue 11 class 8: such objects
// were dropped with a line on stderr only).
import { ConditionReason, ConditionType } from '../api/v1alpha1/index.js';
import { modelBackends, modelRoutes } from '../k8s/kinds.js';
import { KubeApiError, type KubeClient } from '../k8s/types.js';
import { mergeConditions, type ConditionInput } from './status/conditions.js';

export type InvalidKind = 'ModelRoute' | 'ModelBackend';

export interface InvalidObject {
  kind: InvalidKind;
  namespace: string;
  name: string;
  /** Field paths and why, from the schema. */
  message: string;
  generation?: number | undefined;
  uid?: string | undefined;
  /** The message last written to its status, so it is written once. */
  written?: string;
}

const keyOf = (kind: string, id: string) => `${kind} ${id}`;

export class InvalidObjects {
  private readonly entries = new Map<string, InvalidObject>();

  /** Records a refusal; returns the namespace to reconcile, or undefined for kinds without status. */
  report(
    kind: string,
    id: string,
    message: string,
    generation?: number,
    uid?: string,
  ): string | undefined {
    if (kind !== 'ModelRoute' && kind !== 'ModelBackend') return undefined;
    const slash = id.indexOf('/');
    const namespace = slash > 0 ? id.slice(0, slash) : 'default';
    const name = id.slice(slash + 1);
    const previous = this.entries.get(keyOf(kind, id));
    const entry: InvalidObject = { kind, namespace, name, message, generation, uid };
    if (previous?.message === message && previous.generation === generation)
      entry.written = previous.written;
    this.entries.set(keyOf(kind, id), entry);
    return namespace;
  }

  /** The object was read valid, or deleted. */
  clear(kind: InvalidKind, id: string): void {
    this.entries.delete(keyOf(kind, id));
  }

  /** Forget what was written (a new leader writes each status once again). */
  forgetWritten(): void {
    for (const e of this.entries.values()) delete e.written;
  }

  namespaces(): string[] {
    return [...new Set([...this.entries.values()].map((e) => e.namespace))];
  }

  /**
   * Writes InvalidSpec into the status of each invalid object of the namespace
   * not yet told; returns the objects whose write failed, with the cause.
   * `onWritten` hears of each object told (once per message: its Event).
   */
  async writeStatuses(
    client: KubeClient,
    namespace: string,
    nowMs: number,
    onWritten?: (entry: InvalidObject) => void,
  ): Promise<{ object: string; error: unknown }[]> {
    const failures: { object: string; error: unknown }[] = [];
    for (const entry of [...this.entries.values()]) {
      if (entry.namespace !== namespace || entry.written === entry.message) continue;
      try {
        await client.patchStatus(
          entry.kind === 'ModelRoute' ? modelRoutes : modelBackends,
          { namespace, name: entry.name },
          invalidStatusPatch(entry, nowMs),
        );
        entry.written = entry.message;
        onWritten?.(entry);
      } catch (err) {
        // Gone meanwhile: nothing left to tell.
        if (err instanceof KubeApiError && err.status === 404)
          this.clear(entry.kind, `${namespace}/${entry.name}`);
        else failures.push({ object: `${entry.kind} ${namespace}/${entry.name}`, error: err });
      }
    }
    return failures;
  }
}

/** Replaces conditions and drops the figures that described a spec no longer served. */
export function invalidStatusPatch(
  entry: Pick<InvalidObject, 'kind' | 'message' | 'generation'>,
  nowMs: number,
): { status: Record<string, unknown> } {
  const message = `the controller cannot use this object: ${entry.message}; fix the spec (modelroute validate FILE shows the same)`;
  const invalid = (type: string): ConditionInput => ({
    type,
    status: 'False',
    reason: ConditionReason.InvalidSpec,
    message: message.slice(0, 32_768),
  });
  const conditions = mergeConditions(
    undefined,
    entry.kind === 'ModelRoute'
      ? [invalid(ConditionType.Accepted), invalid(ConditionType.Ready)]
      : [invalid(ConditionType.Ready)],
    entry.generation,
    nowMs,
  );
  const status: Record<string, unknown> = { conditions };
  if (entry.generation !== undefined) status.observedGeneration = entry.generation;
  if (entry.kind === 'ModelRoute') {
    for (const stale of ['backends', 'healthyBackends', 'programmed', 'proxies', 'routeVersion'])
      status[stale] = null;
  }
  return { status };
}
