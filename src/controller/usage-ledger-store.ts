// The usage ledger, kept in the API server so the 24 h and 30 d figures
// survive controller restarts and leader changes: one ConfigMap per UTC day
// in the controller's namespace, holding that day's hourly buckets as gzipped
// JSON (binaryData, well under the 1 MiB object limit: a day of 5,000 rows an
// hour compresses to a few hundred KB). The leader loads the days it keeps when
// its term starts (deleting days past retention then) and writes the days
// that changed every flush. Only the leader writes.
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { usageTotalsSchema, USAGE_COUNTERS } from '../finops/attribution.js';
import type { UsageTotals } from '../finops/api-types.js';
import { DURATION_BOUNDS_MS, TTFT_BOUNDS_MS } from '../finops/latency-histogram.js';
import {
  DAY_MS,
  HOUR_MS,
  RETENTION_MS,
  type HourBucket,
  type UsageLedger,
} from '../finops/usage-ledger.js';
import { kubeMeta } from '../k8s/kinds.js';
import type { KubeClient, KubeDeleter, ResourceKind } from '../k8s/types.js';
import { upsertConfigMap } from './configmap-upsert.js';
import type { Logger } from '../telemetry/logger.js';

export const LEDGER_LABEL = 'modelroute.io/usage-ledger';
/** Day ConfigMaps are named <prefix>-YYYYMMDD in the controller's namespace. */
export const USAGE_LEDGER_PREFIX = 'modelroute-usage';
const LEDGER_KEY = 'ledger.json.gz';
const FORMAT = 1;

const ledgerConfigMapSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('ConfigMap'),
  metadata: kubeMeta,
  binaryData: z.record(z.string(), z.string()).nullish(),
});
type LedgerConfigMap = z.infer<typeof ledgerConfigMapSchema>;

export const ledgerConfigMaps: ResourceKind<LedgerConfigMap> = {
  group: '',
  version: 'v1',
  plural: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
  schema: ledgerConfigMapSchema,
};

/** A day as stored: counters as arrays in USAGE_COUNTERS order, to keep the object small. */
const storedDay = z.object({
  format: z.literal(FORMAT),
  day: z.string(),
  hours: z.array(
    z.object({
      start: z.number().int(),
      rows: z.array(z.tuple([z.string(), z.array(z.number().min(0))])),
      latency: z.array(
        z.tuple([
          z.string(),
          z.string(),
          z.array(z.number().int().min(0)).length(DURATION_BOUNDS_MS.length + 1),
          z.array(z.number().int().min(0)).length(TTFT_BOUNDS_MS.length + 1),
        ]),
      ),
    }),
  ),
});
type StoredDay = z.infer<typeof storedDay>;

const dayStart = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;
/** "modelroute-usage-20261204" */
export function dayConfigMapName(prefix: string, dayMs: number): string {
  return `${prefix}-${new Date(dayMs).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

export function encodeDay(ledger: UsageLedger, day: number): StoredDay {
  const hours: StoredDay['hours'] = [];
  for (let h = day; h < day + DAY_MS; h += HOUR_MS) {
    const b = ledger.hour(h);
    if (!b) continue;
    hours.push({
      start: h,
      rows: [...b.rows.entries()].map(([key, t]) => [key, USAGE_COUNTERS.map((c) => t[c])]),
      latency: [...b.latency.values()].map((l) => [l.route, l.backend, l.duration, l.ttft]),
    });
  }
  return { format: FORMAT, day: new Date(day).toISOString().slice(0, 10), hours };
}

export function decodeDay(stored: StoredDay): Map<number, HourBucket> {
  const out = new Map<number, HourBucket>();
  for (const h of stored.hours) {
    const rows = new Map<string, UsageTotals>();
    for (const [key, values] of h.rows) {
      const totals = usageTotalsSchema.safeParse(
        Object.fromEntries(USAGE_COUNTERS.map((c, i) => [c, values[i] ?? 0])),
      );
      if (totals.success) rows.set(key, totals.data);
    }
    const latency: HourBucket['latency'] = new Map();
    for (const [route, backend, duration, ttft] of h.latency)
      latency.set(`${route} ${backend}`, { route, backend, duration, ttft });
    out.set(h.start, { rows, latency });
  }
  return out;
}

export interface UsageLedgerStoreOptions {
  client: Pick<KubeClient, 'list' | 'get' | 'create' | 'replace'>;
  /** Deletes days past retention when the store is loaded; without one they stay (and are ignored). */
  deleter?: KubeDeleter | undefined;
  namespace: string;
  /** ConfigMap name prefix, e.g. "modelroute-usage". */
  prefix: string;
  logger: Logger;
  now: () => number;
}

export class UsageLedgerStore {
  constructor(private readonly options: UsageLedgerStoreOptions) {}

  /** Loads every stored day within retention into the ledger; a day that cannot be read is logged and skipped. */
  async load(ledger: UsageLedger): Promise<number> {
    return readLedgerDays(this.options, ledger, (name) => this.deleteDay(name));
  }

  private async deleteDay(name: string): Promise<void> {
    const { deleter, namespace, logger } = this.options;
    if (!deleter) return;
    try {
      await deleter.delete(ledgerConfigMaps, { namespace, name });
      logger.info('deleted a usage ledger day past retention', {
        configMap: `${namespace}/${name}`,
      });
    } catch (err) {
      // Tried again at the next term; an old day is ignored meanwhile.
      logger.warn('could not delete a usage ledger day past retention', {
        configMap: `${namespace}/${name}`,
        error: err,
      });
    }
  }

  /** Writes the days whose hours changed since the last flush. */
  async flush(ledger: UsageLedger): Promise<void> {
    const days = new Set(ledger.takeDirtyHours().map(dayStart));
    ledger.prune();
    for (const day of [...days].sort()) {
      try {
        await this.writeDay(ledger, day);
      } catch (err) {
        // Written again at the next flush: mark the day's hours dirty once more.
        for (let h = day; h < day + DAY_MS; h += HOUR_MS) if (ledger.hour(h)) ledger.markDirty(h);
        throw err;
      }
    }
  }

  private async writeDay(ledger: UsageLedger, day: number): Promise<void> {
    const { client, namespace, prefix } = this.options;
    const name = dayConfigMapName(prefix, day);
    const body: LedgerConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace,
        labels: {
          [LEDGER_LABEL]: `v${FORMAT}`,
          'app.kubernetes.io/name': 'modelroute',
          'app.kubernetes.io/component': 'usage-ledger',
          'app.kubernetes.io/managed-by': 'modelroute-controller',
        },
      },
      binaryData: {
        [LEDGER_KEY]: gzipSync(JSON.stringify(encodeDay(ledger, day))).toString('base64'),
      },
    };
    await upsertConfigMap(client, ledgerConfigMaps, body);
  }
}

/**
 * Reads every stored day within retention into the ledger and returns the
 * hours read (the store at a term's start, and `modelroute report`, which
 * only lists). A day that cannot be read is logged and skipped; a day past
 * retention goes to `expired` (the store deletes it).
 */
export async function readLedgerDays(
  options: Pick<UsageLedgerStoreOptions, 'namespace' | 'logger' | 'now'> & {
    client: Pick<KubeClient, 'list'>;
  },
  ledger: UsageLedger,
  expired: (name: string) => Promise<void> = () => Promise.resolve(),
): Promise<number> {
  const { client, namespace, logger } = options;
  const list = await client.list(ledgerConfigMaps, {
    namespace,
    labelSelector: `${LEDGER_LABEL}=v${FORMAT}`,
  });
  const cutoff = options.now() - RETENTION_MS;
  let hours = 0;
  for (const cm of list.items) {
    if (endsBefore(cm.metadata.name, cutoff)) {
      await expired(cm.metadata.name);
      continue;
    }
    const day = readDay(cm);
    if (!day.ok) {
      logger.warn('skipped a usage ledger ConfigMap that cannot be read', {
        configMap: `${namespace}/${cm.metadata.name}`,
        error: day.error,
      });
      continue;
    }
    for (const [start, bucket] of decodeDay(day.value))
      if (start >= cutoff) {
        ledger.restoreHour(start, bucket);
        hours += 1;
      }
  }
  return hours;
}

/** Whether a day ConfigMap (by its name's date) ends before the cutoff. */
function endsBefore(name: string, cutoff: number): boolean {
  const match = /-(\d{4})(\d{2})(\d{2})$/.exec(name);
  if (!match) return false;
  const day = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return day + DAY_MS <= cutoff;
}

/** Reads one day out of its ConfigMap. */
export function readDay(
  cm: LedgerConfigMap,
): { ok: true; value: StoredDay } | { ok: false; error: string } {
  const b64 = cm.binaryData?.[LEDGER_KEY];
  if (!b64) return { ok: false, error: `no binaryData key ${LEDGER_KEY}` };
  try {
    const parsed = storedDay.safeParse(
      JSON.parse(gunzipSync(Buffer.from(b64, 'base64')).toString('utf8')),
    );
    return parsed.success
      ? { ok: true, value: parsed.data }
      : { ok: false, error: parsed.error.issues[0]?.message ?? 'invalid' };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
