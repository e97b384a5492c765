// Fleet-wide limits on the real API server (issue 14): two real proxies use a
// backend limited to 60 rpm, traffic goes mostly to one of them, and the
// controller divides the limit by demand and pushes each proxy its share;
// with the controller gone the proxies keep enforcing (their shares, then
// their safe shares), never more than the limit in total.
import OpenAI from 'openai';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { OVERCOMMIT_FRACTION } from '../../src/controller/quota-allocator.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { startSimulatedBackend } from '../../src/simulator/index.js';
import * as env from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import {
  controllerServiceAccountKubeconfig,
  createNamespace,
  installCRDs,
} from '../support/cluster.js';

const { ADMIN_TOKEN, ClusterHandle, backendObject, quietLogger, routeObject, startTestProxy } = env;
type ClusterHandle = env.ClusterHandle;

/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 150_000;
const LIMIT_RPM = 60;
/** What the shares may add up to: the limit plus the over-commit a refusing proxy gets (1 of 60). */
const SHARES_AT_MOST = LIMIT_RPM + Math.floor(LIMIT_RPM * OVERCOMMIT_FRACTION);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface QuotasView {
  assignment: { term: string; sequence: number; expired: boolean } | null;
  limits: { key: string; share: { rpm?: number }; source: string }[];
}

async function quotasOf(proxy: RunningProxy): Promise<QuotasView> {
  const res = await fetch(`${proxy.adminUrl}/admin/v1/quotas`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (!res.ok) throw new Error(`GET /admin/v1/quotas: HTTP ${res.status}`);
  return (await res.json()) as QuotasView;
}

async function backendShare(proxy: RunningProxy, key: string) {
  const view = await quotasOf(proxy);
  const limit = view.limits.find((l) => l.key === key);
  return { view, source: limit?.source, rpm: limit?.share.rpm ?? NaN };
}

/** Sends `n` requests one after another; counts answers and refusals. */
async function send(proxy: RunningProxy, n: number): Promise<{ ok: number; refused: number }> {
  const client = new OpenAI({ baseURL: `${proxy.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 });
  const out = { ok: 0, refused: 0 };
  for (let i = 0; i < n; i++) {
    try {
      await client.chat.completions.create({
        model: 'chat',
        messages: [{ role: 'user', content: 'hi' }],
      });
      out.ok += 1;
    } catch {
      out.refused += 1;
    }
  }
  return out;
}

describe('fleet-wide limits on the shared test API server', () => {
  let cluster: ClusterHandle;
  let kubeconfig: string;
  beforeAll(() => {
    installCRDs();
    kubeconfig = controllerServiceAccountKubeconfig();
  });
  /** A controller replica as its ServiceAccount, reading stats every 500 ms. */
  const leader = (identity: string, extra: { quotaValidForMs?: number } = {}) =>
    startController({
      kubeconfigPath: kubeconfig,
      adminToken: ADMIN_TOKEN,
      identity,
      namespace: cluster.namespace,
      leaseNamespace: 'modelroute-system',
      leaseName: `lease-${cluster.namespace}`,
      logger: quietLogger(),
      statsIntervalMs: 500,
      leaseDurationMs: 3000,
      ...extra,
    });

  test(
    'the busy proxy gets most of a 60 rpm limit, Σ shares ≤ limit + over-commit; without the controller the proxies keep enforcing; a new leader starts from their counts',
    async () => {
      cluster = new ClusterHandle(createNamespace('fleet-quotas'));
      const sim = await startSimulatedBackend({ models: ['m'], recordRequests: false });
      cleanups.push(() => sim.close());
      cluster.apply([
        backendObject('a', sim, { limits: { rpm: LIMIT_RPM } }),
        routeObject('chat', ['a']),
      ]);
      const busy = await startTestProxy('127.0.0.41');
      const quiet = await startTestProxy('127.0.0.42');
      cleanups.push(
        () => busy.close(),
        () => quiet.close(),
      );
      cluster.registerProxy('proxy-busy', busy);
      cluster.registerProxy('proxy-quiet', quiet);
      let controller: RunningController | undefined = await leader('c1', {
        quotaValidForMs: 4_000,
      });
      cleanups.push(() => controller?.close());
      const key = `backend:${cluster.namespace}/a`;

      // Both proxies hold an assignment of this controller's term for the backend.
      await eventually(async () => {
        for (const p of [busy, quiet]) {
          const s = await backendShare(p, key);
          expect(s.view.assignment?.term).toMatch(/^c1@/);
          expect(s.source).toBe('assigned');
        }
      }, 60_000);

      // Skewed traffic: 2 requests through one proxy, then 45 through the other.
      const sentQuiet = await send(quiet, 2);
      expect(sentQuiet.ok).toBe(2);
      const sentBusy = await send(busy, 45);

      let shares = { busy: 0, quiet: 0 };
      await eventually(async () => {
        const b = await backendShare(busy, key);
        const q = await backendShare(quiet, key);
        shares = { busy: b.rpm, quiet: q.rpm };
        expect(b.rpm + q.rpm).toBeLessThanOrEqual(SHARES_AT_MOST);
        // Never below what each already counts in its window.
        expect(b.rpm).toBeGreaterThanOrEqual(sentBusy.ok);
        expect(q.rpm).toBeGreaterThanOrEqual(sentQuiet.ok);
        expect(b.rpm).toBeGreaterThan(q.rpm);
        expect(b.rpm).toBeGreaterThanOrEqual(LIMIT_RPM * 0.75);
      }, 30_000);

      // The backend's status says how the fleet uses its limit.
      await eventually(() => {
        const status = cluster.json<{ status?: { limits?: Record<string, number> } }>([
          'get',
          'mb',
          'a',
        ]).status;
        // Counters alone are rewritten at most once a minute: their presence is what is checked.
        expect(status?.limits).toMatchObject({ proxies: 2 });
        expect(typeof status?.limits?.requestsLastMinute).toBe('number');
      }, 30_000);

      // Controller gone: the busy proxy keeps its share, then falls to its safe share.
      await controller.close();
      controller = undefined;
      await eventually(async () => {
        const b = await backendShare(busy, key);
        expect(b.view.assignment?.expired).toBe(true);
        expect(b.source).toBe('safe');
        expect(b.rpm).toBeLessThanOrEqual(LIMIT_RPM / 2);
      }, 30_000);
      const after = await backendShare(busy, key);
      const quietAfter = await backendShare(quiet, key);
      expect(after.rpm + quietAfter.rpm).toBeLessThanOrEqual(LIMIT_RPM);
      // Still enforced: within the same minute the busy proxy admits nothing
      // past its safe share, which it already counts.
      const more = await send(busy, 10);
      expect(more.refused).toBeGreaterThan(0);
      expect(sentBusy.ok + more.ok).toBeLessThanOrEqual(Math.max(shares.busy, LIMIT_RPM));

      // A new leader starts from what the proxies count: the busy proxy keeps
      // at least its window, so the quiet one cannot be given it again.
      controller = await leader('c2');
      await eventually(async () => {
        const b = await backendShare(busy, key);
        const q = await backendShare(quiet, key);
        expect(b.view.assignment?.term).toMatch(/^c2@/);
        expect(q.view.assignment?.term).toMatch(/^c2@/);
        expect(b.rpm).toBeGreaterThanOrEqual(sentBusy.ok + more.ok);
        expect(b.rpm + q.rpm).toBeLessThanOrEqual(SHARES_AT_MOST);
      }, 60_000);
      process.stdout.write(
        `fleet-quotas: shares busy=${shares.busy} quiet=${shares.quiet} of ${LIMIT_RPM}; ` +
          `busy admitted ${sentBusy.ok}/45, after the controller stopped ${more.ok}/10 (safe ${after.rpm})\n`,
      );
    },
    CASE_TIMEOUT_MS,
  );
});
