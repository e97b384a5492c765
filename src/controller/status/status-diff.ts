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

/**
 * A JSON merge patch that turns `stored` into `computed` at the top level of
 * status: changed fields are set, removed fields are set to null.
 */
export function statusMergePatch(
  stored: Record<string, unknown> | undefined,
  computed: Record<string, unknown>,
): { status: Record<string, unknown> } {
  const patch: Record<string, unknown> = {};
  const before = (normalise(stored) ?? {}) as Record<string, unknown>;
  const after = normalise(computed) as Record<string, unknown>;
  for (const [key, value] of Object.entries(after)) {
    if (canonicalJson(before[key]) !== canonicalJson(value)) patch[key] = value;
  }
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  return { status: patch };
}
