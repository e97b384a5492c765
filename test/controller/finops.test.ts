// Issue 16, end to end on the real API server: a real controller (leading,
// health port on), a real proxy in front of simulated weak and strong
// backends, and traffic. The spend the responses reported is what
// `kubectl get mr` shows, what `modelroute report` reads from the ledger's
// ConfigMaps, what the proxy's /metrics counts and what the FinOps API (the
// dashboard's source) answers; after a controller restart the ledger is
// read back and the figures stay.
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';
import { runReport } from '../../src/cli/report.js';
import type { RunningController } from '../../src/controller/controller.js';
import { usageReport, savingsReport } from '../../src/finops/api-types.js';
import { createKubeClient } from '../../src/k8s/kube-client.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { testenv } from '../support/cluster.js';
import {
  ADMIN_TOKEN,
  startFastReplica,
  startTestProxy,
  type ClusterHandle,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import { mixedPrompts } from '../support/mixed-prompts.js';
import {
  ROUTE,
  setUpStrongShareRoute,
  type StrongShareRoute,
} from '../support/strong-share-route.js';
import { ensureSystemPackages } from '../testenv/system-packages.js';

const CASE_TIMEOUT_MS = 180_000;
const REQUESTS = 60;

let route: StrongShareRoute | undefined;
let cluster: ClusterHandle;
let routeId: string;
let controller: RunningController | undefined;
let proxy: RunningProxy | undefined;

const micro = (usd: number): number => Math.round(usd * 1e6) / 1e6;

async function startLeading(identity: string): Promise<RunningController> {
  const c = await startFastReplica(cluster, identity, {
    health: { host: '127.0.0.1', port: 0 },
    ledgerFlushIntervalMs: 300,
  });
  await eventually(() => expect(c.isLeader).toBe(true), 20_000);
  return c;
}

async function api<T>(c: RunningController, path: string, parse: (v: unknown) => T): Promise<T> {
  const res = await fetch(`${c.healthUrl}${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(res.status).toBe(200);
  return parse(await res.json());
}

/** The proxy's modelroute_spend_usd_total for the route, summed over its other labels. */
async function metricSpend(p: RunningProxy): Promise<number> {
  const text = await (
    await fetch(`${p.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  ).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('modelroute_spend_usd_total{') && line.includes(`route="${routeId}"`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function report(format: 'json' | 'table'): Promise<string> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runReport(
    ['--since', '24h', '--by', 'route', '--format', format, '-n', cluster.namespace],
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    {
      now: Date.now,
      env: {},
      fetch,
      connect: () => createKubeClient({ kubeconfigPath: testenv.kubeconfig }),
    },
  );
  expect({ code, err }).toEqual({ code: 0, err: [] });
  return out.join('\n');
}

beforeAll(async () => {
  route = await setUpStrongShareRoute('finops', 0.3);
  ({ cluster, routeId } = route);
  controller = await startLeading('finops-1');
  // Started within the leader's term: everything it serves counts.
  proxy = await startTestProxy('127.0.0.14');
  cluster.registerProxy('proxy-finops', proxy);
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  await proxy?.close();
  await route?.close();
});

test(
  'one cost figure in kubectl get, the report, /metrics and the FinOps API; it survives a controller restart',
  async () => {
    const p = proxy!;
    await eventually(async () => {
      const res = await fetch(`${p.dataUrl}/v1/models`);
      expect(((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toContain(
        ROUTE,
      );
    }, 60_000);
    const client = new OpenAI({ baseURL: `${p.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 });
    let paid = 0;
    const tiers = new Map<string, number>();
    for (const { content } of mixedPrompts(REQUESTS, 16)) {
      const { response } = await client.chat.completions
        .create({ model: ROUTE, messages: [{ role: 'user', content }] })
        .withResponse();
      paid += Number(response.headers.get('x-modelroute-cost-usd'));
      const tier = response.headers.get('x-modelroute-tier') ?? '';
      tiers.set(tier, (tiers.get(tier) ?? 0) + 1);
    }
    expect(paid).toBeGreaterThan(0);
    const expected = micro(paid);

    // The proxy's own counter.
    expect(micro(await metricSpend(p))).toBeCloseTo(expected, 5);

    // status.cost and kubectl get mr's columns.
    type Cost = {
      status?: {
        cost?: {
          last24h?: { requests: number; costUSD: number };
          last30d?: { savedUSD: number; strongShare?: number };
          savings?: string;
        };
      };
    };
    let shown: Cost['status'];
    await eventually(() => {
      shown = cluster.json<Cost>(['get', 'mr', ROUTE]).status;
      expect(shown?.cost?.last24h).toEqual({ requests: REQUESTS, costUSD: expected });
    }, 60_000);
    const strongShare = Math.round(((tiers.get('strong') ?? 0) / REQUESTS) * 10_000) / 10_000;
    expect(shown?.cost?.last30d?.strongShare).toBe(strongShare);
    expect(shown?.cost?.last30d?.savedUSD).toBeGreaterThan(0);
    await eventually(() => {
      const row = cluster.row('mr', ROUTE);
      expect(Number(row?.['COST/24H (USD)'])).toBeCloseTo(expected, 5);
      expect(row?.['SAVED/30D']).toBe(shown?.cost?.savings);
    }, 30_000);

    // The FinOps API the dashboard reads.
    const c1 = controller!;
    const usage = await api(c1, '/api/v1/usage?since=24h&by=route', (v) => usageReport.parse(v));
    expect(usage.groups.find((g) => g.key === routeId)).toMatchObject({
      requests: REQUESTS,
      costUSD: expected,
    });
    const savings = await api(c1, '/api/v1/savings?since=30d', (v) => savingsReport.parse(v));
    expect(savings.routes.find((r) => r.route === routeId)?.savedUSD).toBe(
      shown?.cost?.last30d?.savedUSD,
    );
    expect((await fetch(`${c1.healthUrl}/api/v1/usage`)).status).toBe(401);

    // modelroute report, from the ledger's ConfigMaps (flushed every 300 ms here).
    await eventually(async () => {
      const json = usageReport.parse(
        (JSON.parse(await report('json')) as { usage: unknown }).usage,
      );
      expect(json.groups.find((g) => g.key === routeId)).toMatchObject({
        requests: REQUESTS,
        costUSD: expected,
      });
    }, 30_000);
    expect(await report('table')).toContain(routeId);

    // A new controller reads the ledger back: the figures stay.
    await c1.close();
    controller = undefined;
    controller = await startLeading('finops-2');
    const c2 = controller;
    await eventually(async () => {
      const again = await api(c2, '/api/v1/usage?since=24h&by=route', (v) => usageReport.parse(v));
      expect(again.groups.find((g) => g.key === routeId)).toMatchObject({
        requests: REQUESTS,
        costUSD: expected,
      });
    }, 30_000);
    expect(cluster.json<Cost>(['get', 'mr', ROUTE]).status?.cost?.last24h).toEqual({
      requests: REQUESTS,
      costUSD: expected,
    });

    // The dashboard, in chromium, from this controller: it asks for the token, then shows the API's figures.
    await dashboardShows(c2, expected);
  },
  CASE_TIMEOUT_MS,
);

/** Set MODELROUTE_SCREENSHOTS=1 to refresh the README's screenshot of a real controller's dashboard. */
const SCREENSHOT = fileURLToPath(
  new URL('../../docs/images/dashboard-controller.png', import.meta.url),
);

async function dashboardShows(c: RunningController, expected: number): Promise<void> {
  ensureSystemPackages(['chromium']);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${c.healthUrl}/dashboard/#since=24h&by=route`);
    await page.getByTestId('token-form').waitFor({ state: 'visible' });
    await page.getByTestId('token-input').fill(ADMIN_TOKEN);
    await page.getByTestId('token-submit').click();
    await page.waitForSelector('body[data-state="ready"][data-since="24h"][data-by="route"]');
    const value = async (testid: string, within?: string) =>
      Number(
        await (within ? page.locator(within) : page)
          .getByTestId(testid)
          .first()
          .getAttribute('data-value'),
      );
    expect(await value('total-spend')).toBe(expected);
    const savings = await api(c, '/api/v1/savings?since=24h', (v) => savingsReport.parse(v));
    expect(await value('total-saved')).toBe(savings.total.savedUSD);
    expect(await value('savings-saved', `[data-testid="savings-row"][data-key="${routeId}"]`)).toBe(
      savings.routes.find((r) => r.route === routeId)?.savedUSD,
    );
    if (process.env.MODELROUTE_SCREENSHOTS === '1')
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
}
