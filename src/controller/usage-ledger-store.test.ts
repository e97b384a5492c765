import { describe, expect, it } from '@jest/globals';
import { zeroTotals, type Attribution } from '../finops/attribution.js';
import { emptyLatency } from '../finops/latency-histogram.js';
import { DAY_MS, HOUR_MS, UsageLedger } from '../finops/usage-ledger.js';
import { KubeApiError, type ResourceKind } from '../k8s/types.js';
import { createLogger } from '../telemetry/logger.js';
import { dayConfigMapName, LEDGER_LABEL, UsageLedgerStore } from './usage-ledger-store.js';

const T0 = Date.UTC(2026, 11, 4, 23, 30);
const on = (tenant: string): Attribution => ({
  route: 'ns/chat',
  rule: 'r',
  backend: 'ns/b',
  model: 'm',
  tier: '',
  tenant,
  namespace: 'ns',
  workload: 'w',
});

/** ConfigMaps in memory, as the API server keeps them (resourceVersion checked on replace). */
function fakeClient(options: { failReplace?: boolean } = {}) {
  const objects = new Map<
    string,
    { metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> } }
  >();
  let version = 0;
  return {
    objects,
    list: (_kind: ResourceKind<unknown>, opts?: { labelSelector?: string }) =>
      Promise.resolve({
        items: [...objects.values()].filter(
          (o) =>
            !opts?.labelSelector ||
            o.metadata.labels?.[LEDGER_LABEL] === opts.labelSelector.split('=')[1],
        ),
        resourceVersion: String(version),
      }),
    get: (_kind: ResourceKind<unknown>, ref: { name: string }) =>
      Promise.resolve(objects.get(ref.name)),
    create: (_kind: ResourceKind<unknown>, o: { metadata: { name: string } }) => {
      if (objects.has(o.metadata.name)) return Promise.reject(new KubeApiError('exists', 409));
      const stored = { ...o, metadata: { ...o.metadata, resourceVersion: String(++version) } };
      objects.set(o.metadata.name, stored);
      return Promise.resolve(stored);
    },
    replace: (
      _kind: ResourceKind<unknown>,
      o: { metadata: { name: string; resourceVersion?: string } },
    ) => {
      if (options.failReplace) return Promise.reject(new KubeApiError('unavailable', 503));
      const current = objects.get(o.metadata.name);
      if (current?.metadata.resourceVersion !== o.metadata.resourceVersion)
        return Promise.reject(new KubeApiError('conflict', 409));
      const stored = { ...o, metadata: { ...o.metadata, resourceVersion: String(++version) } };
      objects.set(o.metadata.name, stored);
      return Promise.resolve(stored);
    },
  };
}

const store = (client: ReturnType<typeof fakeClient>, now: () => number) =>
  new UsageLedgerStore({
    client: client as never,
    namespace: 'modelroute-system',
    prefix: 'modelroute-usage',
    logger: createLogger({ level: 'error', write: () => {} }),
    now,
  });

describe('UsageLedgerStore', () => {
  it('writes one ConfigMap per day and reads every hour back into a new ledger', async () => {
    let now = T0;
    const client = fakeClient();
    const ledger = new UsageLedger(() => now);
    ledger.add(now, on('a'), { ...zeroTotals(), requests: 2, costUSD: 0.5 });
    ledger.addLatency(now, 'ns/chat', 'ns/b', {
      ...emptyLatency(),
      duration: emptyLatency().duration.map((_, i) => (i === 3 ? 2 : 0)),
    });
    await store(client, () => now).flush(ledger);
    now += HOUR_MS; // the next UTC day
    ledger.add(now, on('b'), { ...zeroTotals(), requests: 1, costUSD: 0.25 });
    await store(client, () => now).flush(ledger);
    ledger.add(now, on('b'), { ...zeroTotals(), requests: 1, costUSD: 0.25 });
    await store(client, () => now).flush(ledger); // the same day again: replaced
    expect([...client.objects.keys()].sort()).toEqual([
      dayConfigMapName('modelroute-usage', T0 - (T0 % DAY_MS)),
      'modelroute-usage-20261205',
    ]);

    const again = new UsageLedger(() => now);
    expect(await store(client, () => now).load(again)).toBe(2);
    const usage = again.usage({ sinceMs: DAY_MS, by: 'tenant', step: '1h' });
    expect(usage.groups.map((g) => [g.key, g.requests, g.costUSD])).toEqual([
      ['a', 2, 0.5],
      ['b', 2, 0.5],
    ]);
    expect(again.latency({ sinceMs: DAY_MS }).routes[0]?.requests).toBe(2);
  });

  it('keeps a day it could not write dirty, so the next flush writes it', async () => {
    const now = T0;
    const client = fakeClient();
    const ledger = new UsageLedger(() => now);
    ledger.add(now, on('a'), { ...zeroTotals(), requests: 1 });
    await store(client, () => now).flush(ledger);
    const failing = fakeClient({ failReplace: true });
    failing.objects.set(
      'modelroute-usage-20261204',
      client.objects.get('modelroute-usage-20261204')!,
    );
    ledger.add(now, on('a'), { ...zeroTotals(), requests: 1 });
    await expect(store(failing, () => now).flush(ledger)).rejects.toThrow('unavailable');
    expect(ledger.takeDirtyHours()).toEqual([T0 - (T0 % HOUR_MS)]);
  });

  it('skips a ConfigMap it cannot read, with a warning, and loads the rest', async () => {
    const now = T0;
    const client = fakeClient();
    client.objects.set('modelroute-usage-20261201', {
      metadata: { name: 'modelroute-usage-20261201', labels: { [LEDGER_LABEL]: 'v1' } },
      binaryData: { 'ledger.json.gz': 'bm90IGd6aXA=' },
    } as never);
    const warnings: string[] = [];
    const s = new UsageLedgerStore({
      client: client as never,
      namespace: 'modelroute-system',
      prefix: 'modelroute-usage',
      logger: createLogger({ level: 'warn', write: (l) => warnings.push(l) }),
      now: () => now,
    });
    expect(await s.load(new UsageLedger(() => now))).toBe(0);
    expect(warnings.join('\n')).toContain('modelroute-usage-20261201');
  });
});

describe('UsageLedgerStore retention', () => {
  it('deletes days past retention when it loads, and keeps the rest', async () => {
    const now = T0;
    const client = fakeClient();
    const ledger = new UsageLedger(() => now);
    ledger.add(now, on('a'), { ...zeroTotals(), requests: 1 });
    await store(client, () => now).flush(ledger);
    const old = { ...client.objects.get('modelroute-usage-20261204')! };
    client.objects.set('modelroute-usage-20261102', {
      ...old,
      metadata: { ...old.metadata, name: 'modelroute-usage-20261102' },
    });
    const deleted: string[] = [];
    const s = new UsageLedgerStore({
      client: client as never,
      deleter: {
        delete: (_kind, ref) => {
          deleted.push(ref.name);
          client.objects.delete(ref.name);
          return Promise.resolve();
        },
      },
      namespace: 'modelroute-system',
      prefix: 'modelroute-usage',
      logger: createLogger({ level: 'error', write: () => {} }),
      now: () => now,
    });
    expect(await s.load(new UsageLedger(() => now))).toBe(1);
    // 2 November ends 32 days before 4 December 23:30; 3 November would still be kept.
    expect(deleted).toEqual(['modelroute-usage-20261102']);
    expect([...client.objects.keys()]).toEqual(['modelroute-usage-20261204']);
  });
});
