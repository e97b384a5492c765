// What `modelroute keys` reads and shows: the --expires value, a key's state
// (Active, Revoked, Expired) at a given time, and the list as a table or
// JSON. Pure (the clock is a parameter). A key's hash is never shown: it is
// not the key, but it is all a brute-force attempt would need.
import { z } from 'zod';
import type { ModelAPIKey } from '../api/v1alpha1/index.js';
import { DURATION_PATTERN, durationToMs } from '../api/v1alpha1/index.js';

export type KeyState = 'Active' | 'Revoked' | 'Expired';

const DAY_MS = 86_400_000;
const DAYS_PATTERN = /^([0-9]+)(d|w)$/;
/** RFC 3339 with a zone, checked as the CRD checks expiresAt (no 30 February). */
const RFC3339 = z.iso.datetime({ offset: true });

export type ExpiryResult = { ok: true; expiresAt: string } | { ok: false; message: string };

/** An instant as the API stores it: UTC, whole seconds. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * `--expires`: a lifetime from now (`30d`, `2w`, `12h`, `1h30m`) or an
 * instant (RFC 3339). Refused when unreadable or not in the future, since a
 * key that is born expired is never what the caller meant.
 */
export function parseExpiry(value: string, nowMs: number): ExpiryResult {
  const usage = `--expires must be a lifetime such as "30d", "2w" or "12h", or an RFC 3339 time such as "2027-01-31T00:00:00Z"; got "${value}"`;
  let atMs: number;
  const days = DAYS_PATTERN.exec(value);
  if (days) {
    atMs = nowMs + Number(days[1]) * (days[2] === 'w' ? 7 : 1) * DAY_MS;
  } else if (DURATION_PATTERN.test(value)) {
    atMs = nowMs + durationToMs(value);
  } else if (RFC3339.safeParse(value).success) {
    atMs = Date.parse(value);
    if (!Number.isFinite(atMs)) return { ok: false, message: usage };
  } else {
    return { ok: false, message: usage };
  }
  // Whole seconds: what the API keeps, and what the key list shows.
  atMs = Math.floor(atMs / 1000) * 1000;
  if (!Number.isFinite(atMs) || atMs > Date.parse('9999-12-31T23:59:59Z')) {
    return { ok: false, message: `--expires "${value}" is too far in the future` };
  }
  if (atMs <= nowMs) {
    return {
      ok: false,
      message: `--expires "${value}" is not in the future (now is ${rfc3339(nowMs)}); give a lifetime such as "30d" or a later time`,
    };
  }
  return { ok: true, expiresAt: rfc3339(atMs) };
}

/** Revoked wins over Expired: revocation is the deliberate act, and it is permanent. */
export function keyState(key: ModelAPIKey, nowMs: number): KeyState {
  if (key.spec.revoked) return 'Revoked';
  if (key.spec.expiresAt !== undefined) {
    const at = Date.parse(key.spec.expiresAt);
    // The proxies refuse a key whose expiry they cannot read (compileApiKey); so do we.
    if (!Number.isFinite(at) || at <= nowMs) return 'Expired';
  }
  return 'Active';
}

/** An age as kubectl prints one: 45s, 5m30s, 3h, 5h30m, 2d, 3d4h, 400d, 3y. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (h < 3) return `${m}m`;
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (d < 2) return `${h}h`;
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

/** One key as `keys list` shows it (table and JSON alike): no hash. */
export interface KeyRow {
  name: string;
  namespace: string;
  tenant: string;
  prefix: string;
  status: KeyState;
  expiresAt: string | null;
  createdAt: string | null;
}

export function keyRows(keys: readonly ModelAPIKey[], nowMs: number): KeyRow[] {
  return keys
    .map((k) => ({
      name: k.metadata.name,
      namespace: k.metadata.namespace ?? 'default',
      tenant: k.spec.tenant,
      prefix: k.spec.prefix,
      status: keyState(k, nowMs),
      expiresAt: k.spec.expiresAt ?? null,
      createdAt: k.metadata.creationTimestamp ?? null,
    }))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** kubectl's layout: upper-case headers, columns three spaces apart, no trailing blanks. */
export function renderTable(
  rows: readonly KeyRow[],
  nowMs: number,
  opts: { allNamespaces: boolean },
): string {
  const header = [
    'NAME',
    ...(opts.allNamespaces ? ['NAMESPACE'] : []),
    'TENANT',
    'PREFIX',
    'STATUS',
    'EXPIRES',
    'AGE',
  ];
  const cells = rows.map((r) => [
    r.name,
    ...(opts.allNamespaces ? [r.namespace] : []),
    r.tenant,
    r.prefix,
    r.status,
    r.expiresAt ?? 'never',
    r.createdAt === null ? '<unknown>' : formatAge(nowMs - Date.parse(r.createdAt)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  return [header, ...cells]
    .map((line) =>
      line
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}
