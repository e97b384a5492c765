// Which proxy pods cannot get which backend's API key, as they last said in
// their stats (`credentials.unavailable`). Only the pod knows: a
// same-namespace Secret is mounted at admission, so a backend added later has
// no key in pods admitted before it. A pod that did not answer, or is older
// than the field, keeps what it said last (or claims nothing): a collection
// that misses one pod must not flip route status back and forth.
import type { ProxyStats } from './proxy-fleet.js';

export class ProxyCredentialGaps {
  /** podKey → backendId → reason. */
  private readonly byPod = new Map<string, ReadonlyMap<string, string>>();

  /**
   * Records what each answering pod said, forgets pods that are gone, and
   * returns the namespaces (of the pods) whose gaps changed.
   */
  update(stats: ReadonlyMap<string, ProxyStats>, pods: ReadonlySet<string>): Set<string> {
    const changed = new Set<string>();
    for (const [podKey, body] of stats) {
      const now = new Map(
        (body.credentials?.unavailable ?? []).map((u) => [u.backendId, u.reason] as const),
      );
      if (!sameGaps(this.byPod.get(podKey), now)) changed.add(namespaceOfPod(podKey));
      if (now.size > 0) this.byPod.set(podKey, now);
      else this.byPod.delete(podKey);
    }
    for (const podKey of [...this.byPod.keys()]) {
      if (pods.has(podKey)) continue;
      this.byPod.delete(podKey);
      changed.add(namespaceOfPod(podKey));
    }
    return changed;
  }

  /** Of `podKeys`, those that cannot get `backendId`'s key, with why, in the order given. */
  lacking(backendId: string, podKeys: readonly string[]): { pod: string; reason: string }[] {
    const out: { pod: string; reason: string }[] = [];
    for (const pod of podKeys) {
      const reason = this.byPod.get(pod)?.get(backendId);
      if (reason !== undefined) out.push({ pod, reason });
    }
    return out;
  }

  clear(): void {
    this.byPod.clear();
  }
}

function namespaceOfPod(podKey: string): string {
  return podKey.slice(0, podKey.indexOf('/'));
}

function sameGaps(
  a: ReadonlyMap<string, string> | undefined,
  b: ReadonlyMap<string, string>,
): boolean {
  if ((a?.size ?? 0) !== b.size) return false;
  for (const [id, reason] of b) if (a?.get(id) !== reason) return false;
  return true;
}
