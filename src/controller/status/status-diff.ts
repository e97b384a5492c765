// Decides whether a computed status differs from the stored one, so the
// controller writes only real changes (no write storms on every resync).
import { canonicalJson } from '../../routing/table.js';

/** Drops undefined values so that absent and undefined compare equal. */
function normalise(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? {})) as unknown;
}

export function statusChanged(stored: unknown, computed: unknown): boolean {
  return canonicalJson(normalise(stored)) !== canonicalJson(normalise(computed));
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The merge-patch value that makes `before` exactly `after`: a merge patch
 * merges nested objects key by key (RFC 7396), so a key `after` lacks must be
 * sent as null, or the stored one stays — a new lastFailover without
 * `recoveredTime` would otherwise keep the previous failover's.
 */
function replacing(before: unknown, after: unknown): unknown {
  if (!isPlainObject(after) || !isPlainObject(before)) return after;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) out[key] = replacing(before[key], value);
  for (const key of Object.keys(before)) if (!(key in after)) out[key] = null;
  return out;
}

/**
 * A JSON merge patch that turns `stored` into `computed`: changed fields of
 * status are written whole (nested keys that went are nulled), removed fields
 * are set to null.
 */
export function statusMergePatch(
  stored: Record<string, unknown> | undefined,
  computed: Record<string, unknown>,
): { status: Record<string, unknown> } {
  const patch: Record<string, unknown> = {};
  const before = (normalise(stored) ?? {}) as Record<string, unknown>;
  const after = normalise(computed) as Record<string, unknown>;
  for (const [key, value] of Object.entries(after)) {
    if (canonicalJson(before[key]) !== canonicalJson(value))
      patch[key] = replacing(before[key], value);
  }
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  return { status: patch };
}
