// The learning rules' recent requests a proxy can still take feedback on
// (issue 17): a fixed-capacity ring, so memory stays bounded whatever the
// traffic. Each slot holds numbers and two shared strings (rule key and
// tenant id, both from the table) besides the request id: the prompt's
// features as float32, the tier, the model version and the deadline. About
// 270 bytes a request with its id (measured with gc exposed, Node 20), 5.5 MB
// at the default 20,000, allocated on the first learning request. An id is refused as unknown once its slot is reused, as
// expired after its rule's feedbackWindow, and as repeated after one score.
import { LEARNING_FEATURE_COUNT } from '../../learning/wire.js';
import type { LearningTier } from './ticket.js';

export const RECENT_REQUESTS_CAPACITY = 20_000;

export interface RecentRequest {
  requestId: string;
  ruleKey: string;
  tenantId: string;
  tier: LearningTier;
  modelVersion: number;
  features: ArrayLike<number>;
}

export type FeedbackClaim =
  | {
      ok: true;
      ruleKey: string;
      tier: LearningTier;
      modelVersion: number;
      features: Float32Array;
    }
  /** unknown: never seen here, forgotten, or another tenant's (indistinguishable on purpose). */
  | { ok: false; reason: 'unknown' | 'expired' | 'repeated'; ruleKey?: string };

const F = LEARNING_FEATURE_COUNT;

interface Slots {
  ids: (string | undefined)[];
  rules: string[];
  tenants: string[];
  strong: Uint8Array;
  versions: Uint32Array;
  expires: Float64Array;
  scored: Uint8Array;
  features: Float32Array;
}

export class RecentRequests {
  private slots: Slots | undefined;
  private readonly bySlot = new Map<string, number>();
  private next = 0;

  constructor(readonly capacity = RECENT_REQUESTS_CAPACITY) {}

  /** Requests held now. */
  get size(): number {
    return this.bySlot.size;
  }

  // Allocated on first use: a proxy without learning rules pays nothing.
  private allocate(): Slots {
    const n = this.capacity;
    return {
      ids: new Array<string | undefined>(n),
      rules: new Array<string>(n),
      tenants: new Array<string>(n),
      strong: new Uint8Array(n),
      versions: new Uint32Array(n),
      expires: new Float64Array(n),
      scored: new Uint8Array(n),
      features: new Float32Array(n * F),
    };
  }

  /** Keeps `r` (copied) until its slot is reused; feedback after `expiresAtMs` is refused as expired. */
  add(r: RecentRequest, expiresAtMs: number): void {
    const s = (this.slots ??= this.allocate());
    const slot = this.next;
    this.next = (slot + 1) % this.capacity;
    const old = s.ids[slot];
    if (old !== undefined && this.bySlot.get(old) === slot) this.bySlot.delete(old);
    s.ids[slot] = r.requestId;
    s.rules[slot] = r.ruleKey;
    s.tenants[slot] = r.tenantId;
    s.strong[slot] = r.tier === 'strong' ? 1 : 0;
    s.versions[slot] = r.modelVersion;
    s.expires[slot] = expiresAtMs;
    s.scored[slot] = 0;
    const base = slot * F;
    for (let j = 0; j < F; j++) s.features[base + j] = (r.features[j] as number) ?? 0;
    this.bySlot.set(r.requestId, slot);
  }

  /** The request failed or was cut: no feedback on it. */
  forget(requestId: string): void {
    this.bySlot.delete(requestId);
  }

  /** Claims the one score a request may get: checks owner, deadline and repeats. */
  claim(requestId: string, tenantId: string, nowMs: number): FeedbackClaim {
    const slot = this.bySlot.get(requestId);
    const s = this.slots;
    if (slot === undefined || s === undefined) return { ok: false, reason: 'unknown' };
    const ruleKey = s.rules[slot] as string;
    if (s.tenants[slot] !== tenantId) return { ok: false, reason: 'unknown', ruleKey };
    if (nowMs > (s.expires[slot] as number)) return { ok: false, reason: 'expired', ruleKey };
    if (s.scored[slot] === 1) return { ok: false, reason: 'repeated', ruleKey };
    s.scored[slot] = 1;
    return {
      ok: true,
      ruleKey,
      tier: s.strong[slot] === 1 ? 'strong' : 'cheap',
      modelVersion: s.versions[slot] as number,
      features: s.features.slice(slot * F, slot * F + F),
    };
  }
}
