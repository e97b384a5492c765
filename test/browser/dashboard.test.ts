// The dashboard in a real browser (Debian's chromium driven by playwright-core):
// the figures the page shows are the API's, the window and dimension selectors
// reload them, the token box appears on a 401 and the token is kept for the
// tab, and the page breaks no CSP rule. Saves the README's screenshot.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { z } from 'zod';
import {
  budgetsReport,
  latencyReport,
  savingsReport,
  timelineReport,
  usageReport,
} from '../../src/finops/api-types.js';
import { createFixtureFinopsSource } from '../../src/dashboard/__fixtures__/finops-source.js';
import { formatMs, formatPercent, formatUSD } from '../../src/dashboard/assets/format.js';
import {
  createDashboardListener,
  type DashboardListenerOptions,
} from '../../src/dashboard/dashboard-listener.js';
import { ensureSystemPackages } from '../testenv/system-packages.js';

const NOW = Date.parse('2026-12-04T15:30:00Z');
const TOKEN = 'browser-test-admin-token';
const SCREENSHOT = fileURLToPath(
  new URL('../../docs/images/dashboard-overview.png', import.meta.url),
);

async function serve(options: DashboardListenerOptions): Promise<{ base: string; server: Server }> {
  const dashboard = createDashboardListener(options);
  const server = createServer((req, res) => {
    if (!dashboard(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function readApi<S extends z.ZodType>(
  base: string,
  path: string,
  schema: S,
  token?: string,
): Promise<z.infer<S>> {
  const response = await fetch(`${base}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  expect(response.status).toBe(200);
  return schema.parse(await response.json());
}

/** What a figure shows and the raw value it carries. */
async function figure(
  page: Page,
  testid: string,
  within?: string,
): Promise<{ text: string; value: number }> {
  const scope = within ? page.locator(within) : page;
  const node = scope.getByTestId(testid).first();
  const text = (await node.textContent()) ?? '';
  const value = Number(await node.getAttribute('data-value'));
  return { text, value };
}

/** The spend chart's series as Chart.js holds them. */
function spendSeries(page: Page): Promise<{ label: string; total: number }[]> {
  return page.evaluate(() => {
    type ChartJs = {
      getChart(id: string): { data: { datasets: { label: string; data: number[] }[] } } | undefined;
    };
    const chart = (globalThis as unknown as { Chart: ChartJs }).Chart.getChart('spend-chart');
    return (chart?.data.datasets ?? []).map((d) => ({
      label: d.label,
      total: d.data.reduce((sum, v) => sum + v, 0),
    }));
  });
}

async function ready(page: Page, since: string, by: string): Promise<void> {
  await page.waitForSelector(`body[data-state="ready"][data-since="${since}"][data-by="${by}"]`);
}

describe('dashboard in chromium', () => {
  let browser: Browser;
  let open: { base: string; server: Server };
  let guarded: { base: string; server: Server };
  const contexts: BrowserContext[] = [];
  /** Console errors and uncaught exceptions (CSP violations land here too). */
  const pageErrors: string[] = [];

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1400, height: 900 },
      locale: 'en-US',
      timezoneId: 'UTC',
    });
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return page;
  }

  beforeAll(async () => {
    ensureSystemPackages(['chromium']);
    open = await serve({ source: createFixtureFinopsSource({ now: () => NOW }) });
    guarded = await serve({
      source: createFixtureFinopsSource({ now: () => NOW, budgets: false }),
      authorize: (req) => req.headers.authorization === `Bearer ${TOKEN}`,
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox'],
    });
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    open?.server.close();
    guarded?.server.close();
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  it('shows the figures the API answers, and saves the overview screenshot', async () => {
    const page = await newPage();
    await page.goto(`${open.base}/dashboard/`);
    await ready(page, '24h', 'tenant');

    const [usage, mix, savings, latency, timeline, budgets] = await Promise.all([
      readApi(open.base, '/api/v1/usage?since=24h&by=tenant', usageReport),
      readApi(open.base, '/api/v1/usage?since=24h&by=model', usageReport),
      readApi(open.base, '/api/v1/savings?since=24h', savingsReport),
      readApi(open.base, '/api/v1/latency?since=24h', latencyReport),
      readApi(open.base, '/api/v1/timeline?since=24h', timelineReport),
      readApi(open.base, '/api/v1/budgets', budgetsReport),
    ]);
    const { totals } = usage;

    expect(await figure(page, 'total-spend')).toEqual({
      text: formatUSD(totals.costUSD),
      value: totals.costUSD,
    });
    expect(await figure(page, 'total-saved')).toEqual({
      text: formatUSD(savings.total.savedUSD),
      value: savings.total.savedUSD,
    });
    expect(await figure(page, 'total-saved-pct')).toEqual({
      text: formatPercent(savings.total.savedFraction),
      value: savings.total.savedFraction,
    });
    const strongShare = totals.strongRequests / totals.tieredRequests;
    expect(strongShare).toBeGreaterThan(0);
    expect(await figure(page, 'strong-share')).toEqual({
      text: formatPercent(strongShare),
      value: strongShare,
    });

    const gpt4o = latency.routes.find((r) => r.route === 'chat' && r.backend === 'openai-gpt-4o');
    expect(gpt4o?.p95Ms).toBeDefined();
    expect(
      await figure(
        page,
        'latency-p95',
        '[data-testid="latency-row"][data-key="chat/openai-gpt-4o"]',
      ),
    ).toEqual({ text: formatMs(gpt4o?.p95Ms), value: gpt4o?.p95Ms });
    expect(await page.getByTestId('latency-row').count()).toBe(latency.routes.length);

    expect(budgets.budgets.length).toBeGreaterThan(0);
    await page.getByTestId('budgets-panel').waitFor({ state: 'visible' });
    for (const b of budgets.budgets) {
      const row = `[data-testid="budget-row"][data-key="${b.scope}/${b.namespace ?? ''}/${b.name}"]`;
      expect(await figure(page, 'budget-pct', row)).toEqual({
        text: formatPercent(b.ratio),
        value: b.ratio,
      });
    }

    for (const r of savings.routes) {
      const row = `[data-testid="savings-row"][data-key="${r.route}"]`;
      expect(await figure(page, 'savings-saved', row)).toEqual({
        text: formatUSD(r.savedUSD),
        value: r.savedUSD,
      });
    }
    for (const g of mix.groups) {
      const row = `[data-testid="model-row"][data-key="${g.key}"]`;
      expect(await figure(page, 'model-spend', row)).toEqual({
        text: formatUSD(g.costUSD),
        value: g.costUSD,
      });
    }
    expect(await page.getByTestId('timeline-entry').count()).toBe(timeline.entries.length);
    expect(timeline.entries.some((e) => e.kind === 'failover')).toBe(true);

    // The stacked chart holds one series per tenant, adding up to the total spend.
    const series = await spendSeries(page);
    expect(series.map((s) => s.label)).toEqual(
      usage.groups.map((g) => (g.key === '' ? '(none)' : g.key)),
    );
    expect(series.reduce((sum, s) => sum + s.total, 0)).toBeCloseTo(totals.costUSD, 6);

    // Every number in a table carries a data-testid (and its raw value) for tests like this one.
    expect(await page.locator('td.num').count()).toBeGreaterThan(40);
    expect(await page.locator('td.num:not(:has([data-testid][data-value]))').count()).toBe(0);

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('reloads the figures for another window and another breakdown', async () => {
    const page = await newPage();
    await page.goto(`${open.base}/dashboard/`);
    await ready(page, '24h', 'tenant');

    await page.click('[data-since="7d"]');
    await ready(page, '7d', 'tenant');
    const week = await readApi(open.base, '/api/v1/usage?since=7d&by=tenant', usageReport);
    expect(await figure(page, 'total-spend')).toEqual({
      text: formatUSD(week.totals.costUSD),
      value: week.totals.costUSD,
    });
    expect(page.url()).toContain('#since=7d');

    await page.selectOption('[data-testid="by"]', 'route');
    await ready(page, '7d', 'route');
    const byRoute = await readApi(open.base, '/api/v1/usage?since=7d&by=route', usageReport);
    const series = await spendSeries(page);
    expect(series.map((s) => s.label)).toEqual(byRoute.groups.map((g) => g.key));
    // Daily buckets for a week: one bar per day the window touches.
    expect(byRoute.step).toBe('1d');
  });

  it('asks for the token on a 401, refuses a wrong one, and keeps the right one for the tab', async () => {
    const page = await newPage();
    await page.goto(`${guarded.base}/dashboard/`);
    await page.waitForSelector('body[data-state="token"]');
    await page.getByTestId('token-form').waitFor({ state: 'visible' });
    expect(await page.getByTestId('token-error').isHidden()).toBe(true);

    await page.getByTestId('token-input').fill('not-the-token');
    await page.getByTestId('token-submit').click();
    await page.getByTestId('token-error').waitFor({ state: 'visible' });
    expect(await page.getByTestId('token-error').textContent()).toContain('refused');

    await page.getByTestId('token-input').fill(TOKEN);
    await page.getByTestId('token-submit').click();
    await ready(page, '24h', 'tenant');
    const usage = await readApi(
      guarded.base,
      '/api/v1/usage?since=24h&by=tenant',
      usageReport,
      TOKEN,
    );
    expect((await figure(page, 'total-spend')).value).toBe(usage.totals.costUSD);
    // No budgets: no budgets panel.
    expect(await page.getByTestId('budgets-panel').isHidden()).toBe(true);
    const kept = await page.evaluate(() => {
      const storage = (
        globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }
      ).sessionStorage;
      return storage.getItem('modelroute.dashboard.token');
    });
    expect(kept).toBe(TOKEN);

    // A reload in the same tab goes straight to the figures.
    await page.reload();
    await ready(page, '24h', 'tenant');
    expect(await page.getByTestId('token-form').isHidden()).toBe(true);
    // The browser logs each refused request as a console error: expected here, not a page fault.
    pageErrors.splice(0, pageErrors.length, ...pageErrors.filter((e) => !e.includes('401')));
  });
});
