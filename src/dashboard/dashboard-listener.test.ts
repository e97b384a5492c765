import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  budgetsReport,
  latencyReport,
  savingsReport,
  timelineReport,
  usageReport,
  type FinopsSource,
} from '../finops/api-types.js';
import { rawExchange } from '../../test/support/raw-http.js';
import { createFixtureFinopsSource } from './__fixtures__/finops-source.js';
import { createDashboardListener, type DashboardListenerOptions } from './dashboard-listener.js';

const NOW = Date.parse('2026-12-04T15:30:00Z');
const TOKEN = 'dashboard-test-token';

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function get(base: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(`${base}${path}`, { redirect: 'manual', ...init });
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  };
}

/** The path exactly as given: fetch would resolve "..", "%2e%2e" and hide the attempt. */
async function getRaw(base: string, path: string): Promise<Reply> {
  const reply = await rawExchange(base, [
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  ]);
  return { status: reply.status, headers: reply.headers, body: reply.text };
}

async function serve(options: DashboardListenerOptions): Promise<{ base: string; server: Server }> {
  const dashboard = createDashboardListener(options);
  // The listener is chained in front of another server's routes, as the controller does.
  const server = createServer((req, res) => {
    if (!dashboard(req, res))
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not the dashboard');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('dashboard listener', () => {
  const source = createFixtureFinopsSource({ now: () => NOW });
  let open: { base: string; server: Server };
  let guarded: { base: string; server: Server };

  beforeAll(async () => {
    open = await serve({ source });
    guarded = await serve({
      source,
      authorize: (req) => req.headers.authorization === `Bearer ${TOKEN}`,
    });
  });
  afterAll(() => {
    open.server.close();
    guarded.server.close();
  });

  describe('the page', () => {
    it('redirects /dashboard to /dashboard/ so relative asset URLs resolve', async () => {
      const reply = await get(open.base, '/dashboard?x=1');
      expect(reply.status).toBe(308);
      expect(reply.headers.location).toBe('/dashboard/?x=1');
    });

    it('serves index.html at /dashboard/ with a same-origin-only CSP', async () => {
      const reply = await get(open.base, '/dashboard/');
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(reply.body).toContain('<title>modelroute');
      expect(reply.body).toContain('src="vendor/chart.umd.min.js"');
      const csp = reply.headers['content-security-policy'] ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).not.toContain('unsafe');
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['x-frame-options']).toBe('DENY');
    });

    it.each([
      ['/dashboard/index.html', 'text/html; charset=utf-8', '<!doctype html>'],
      ['/dashboard/app.js', 'text/javascript; charset=utf-8', "from './format.js'"],
      ['/dashboard/format.js', 'text/javascript; charset=utf-8', 'export function formatUSD'],
      ['/dashboard/style.css', 'text/css; charset=utf-8', ':root'],
    ])('serves %s as %s', async (path, contentType, excerpt) => {
      const reply = await get(open.base, path);
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe(contentType);
      expect(reply.body).toContain(excerpt);
    });

    it('serves Chart.js from the installed package', async () => {
      const installed = join(
        dirname(createRequire(import.meta.url).resolve('chart.js')),
        'chart.umd.min.js',
      );
      const reply = await get(open.base, '/dashboard/vendor/chart.umd.min.js');
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(reply.body).toBe(readFileSync(installed, 'utf8'));
    });

    it('answers a repeat load with 304 when the ETag still matches', async () => {
      const first = await get(open.base, '/dashboard/app.js');
      const etag = String(first.headers.etag);
      expect(etag).toMatch(/^".+"$/);
      const again = await get(open.base, '/dashboard/app.js', {
        headers: { 'if-none-match': etag },
      });
      expect(again.status).toBe(304);
      expect(again.body).toBe('');
    });

    it('answers HEAD with the headers and no body', async () => {
      const reply = await get(open.base, '/dashboard/style.css', { method: 'HEAD' });
      expect(reply.status).toBe(200);
      expect(Number(reply.headers['content-length'])).toBeGreaterThan(100);
      expect(reply.body).toBe('');
    });

    it.each([
      '/dashboard/../package.json',
      '/dashboard/%2e%2e/package.json',
      '/dashboard/..%2f..%2fpackage.json',
      '/dashboard/vendor/../../../../package.json',
      '/dashboard/vendor/..%2fchart.js',
      '/dashboard//etc/passwd',
      '/dashboard/dashboard-listener.ts',
      '/dashboard/assets/app.js',
      '/dashboard/app.js%00.html',
      '/dashboard/format.d.ts',
    ])('serves no file outside its list: %s', async (path) => {
      const reply = await getRaw(open.base, path);
      expect(reply.status).toBe(404);
      expect(reply.body).toBe('no such dashboard file; the page is at /dashboard/');
      expect(reply.body).not.toContain('"name"');
    });

    it('leaves paths that are not its own to the server it is chained into', async () => {
      for (const path of ['/healthz', '/dashboards', '/api/v1/unknown', '/api/v2/usage']) {
        const reply = await get(open.base, path);
        expect({ path, status: reply.status, body: reply.body }).toEqual({
          path,
          status: 404,
          body: 'not the dashboard',
        });
      }
    });

    it('refuses methods other than GET and HEAD', async () => {
      const page = await get(open.base, '/dashboard/', { method: 'POST' });
      expect(page.status).toBe(405);
      expect(page.headers.allow).toBe('GET, HEAD');
      const api = await get(open.base, '/api/v1/usage', { method: 'DELETE' });
      expect(api.status).toBe(405);
      expect(JSON.parse(api.body)).toEqual({
        error: { message: expect.stringContaining('read-only'), code: 'method_not_allowed' },
      });
    });

    it('serves the page without a token even when the API needs one (the page asks for it)', async () => {
      expect((await get(guarded.base, '/dashboard/')).status).toBe(200);
      expect((await get(guarded.base, '/dashboard/vendor/chart.umd.min.js')).status).toBe(200);
    });
  });

  describe('the API', () => {
    it('answers usage with the source figures, defaults since=24h, by=route, step=1h, and no-store', async () => {
      const reply = await get(open.base, '/api/v1/usage');
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(reply.headers['cache-control']).toBe('no-store');
      const report = usageReport.parse(JSON.parse(reply.body));
      expect(report).toEqual(
        await source.usage({ sinceMs: 24 * 3_600_000, by: 'route', step: '1h' }),
      );
      expect(report.by).toBe('route');
      expect(report.step).toBe('1h');
    });

    it('takes since, by and step, with daily buckets by default past 48h', async () => {
      const week = usageReport.parse(
        JSON.parse((await get(open.base, '/api/v1/usage?since=7d&by=tenant')).body),
      );
      expect(week.step).toBe('1d');
      expect(week.by).toBe('tenant');
      expect(week.series).toHaveLength(8);
      const hourly = usageReport.parse(
        JSON.parse((await get(open.base, '/api/v1/usage?since=72h&by=model&step=1h')).body),
      );
      expect(hourly.step).toBe('1h');
      expect(hourly.series.length).toBeGreaterThanOrEqual(72);
    });

    it.each([
      [
        '/api/v1/savings?since=30d',
        savingsReport,
        (s: FinopsSource) => s.savings({ sinceMs: 30 * 86_400_000 }),
      ],
      [
        '/api/v1/latency?since=30m',
        latencyReport,
        (s: FinopsSource) => s.latency({ sinceMs: 30 * 60_000 }),
      ],
      [
        '/api/v1/timeline?since=7d',
        timelineReport,
        (s: FinopsSource) => s.timeline({ sinceMs: 7 * 86_400_000 }),
      ],
      ['/api/v1/budgets', budgetsReport, (s: FinopsSource) => s.budgets()],
    ] as const)('answers %s with the source report', async (path, schema, read) => {
      const reply = await get(open.base, path);
      expect(reply.status).toBe(200);
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(schema.parse(JSON.parse(reply.body))).toEqual(await read(source));
    });

    it.each([
      ['/api/v1/usage?since=31d', 'since is longer than 30d'],
      [
        '/api/v1/usage?since=yesterday',
        'since must be a whole number of minutes, hours or days such as 30m, 24h or 7d',
      ],
      ['/api/v1/usage?since=0h', 'since must be'],
      ['/api/v1/usage?since=1.5h', 'since must be'],
      [
        '/api/v1/usage?by=colour',
        'by must be one of tenant, namespace, workload, route, rule, model, backend, tier',
      ],
      ['/api/v1/usage?step=5m', 'step must be 1h or 1d'],
      ['/api/v1/usage?sinse=7d', "unknown query parameter 'sinse'; allowed: since, by, step"],
      ['/api/v1/usage?since=1h&since=2h', "query parameter 'since' is given twice"],
      ['/api/v1/savings?by=route', "unknown query parameter 'by'; allowed: since"],
      ['/api/v1/timeline?since=90d', 'since is longer than 30d'],
      ['/api/v1/budgets?since=1h', "unknown query parameter 'since'; allowed: no parameters"],
    ])('refuses %s with a 400 saying what is wrong', async (path, message) => {
      const reply = await get(open.base, path);
      expect(reply.status).toBe(400);
      expect(reply.headers['cache-control']).toBe('no-store');
      const body = JSON.parse(reply.body) as { error: { message: string; code: string } };
      expect(body.error.code).toBe('invalid_query');
      expect(body.error.message).toContain(message);
    });

    it('asks for the bearer token with a 401, refuses a wrong one, answers the right one', async () => {
      const missing = await get(guarded.base, '/api/v1/usage');
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="modelroute"');
      expect(JSON.parse(missing.body)).toEqual({
        error: {
          message: 'this API needs the admin token: send it as Authorization: Bearer <token>',
          code: 'unauthorized',
        },
      });
      const wrong = await get(guarded.base, '/api/v1/budgets', {
        headers: { authorization: 'Bearer nope' },
      });
      expect(wrong.status).toBe(401);
      expect(JSON.parse(wrong.body).error.message).toContain('refused');
      const right = await get(guarded.base, '/api/v1/budgets', {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(right.status).toBe(200);
      expect(budgetsReport.parse(JSON.parse(right.body)).budgets.length).toBeGreaterThan(0);
    });

    it('checks the token before the query, so a caller without one learns nothing', async () => {
      const reply = await get(guarded.base, '/api/v1/usage?by=colour');
      expect(reply.status).toBe(401);
    });

    it('answers 500 with the reason when the source fails, and logs it', async () => {
      const failing: FinopsSource = {
        ...source,
        savings: () => Promise.reject(new Error('ledger ConfigMap unreadable')),
      };
      const lines: Record<string, unknown>[] = [];
      const logger = {
        debug: () => {},
        info: () => {},
        warn: () => {},
        error: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, ...fields }),
        child: () => logger,
      };
      const broken = await serve({ source: failing, logger });
      try {
        const reply = await get(broken.base, '/api/v1/savings');
        expect(reply.status).toBe(500);
        expect(JSON.parse(reply.body)).toEqual({
          error: {
            message: 'could not read /api/v1/savings: ledger ConfigMap unreadable',
            code: 'source_failed',
          },
        });
        expect(lines).toEqual([
          expect.objectContaining({ msg: 'FinOps API read failed', path: '/api/v1/savings' }),
        ]);
      } finally {
        broken.server.close();
      }
    });
  });
});

describe('the fixture source', () => {
  const source = createFixtureFinopsSource({ now: () => NOW });

  it('adds up: groups and series sum to the totals', async () => {
    for (const by of ['tenant', 'model', 'tier'] as const) {
      const report = usageReport.parse(
        await source.usage({ sinceMs: 7 * 86_400_000, by, step: '1d' }),
      );
      const groupCost = report.groups.reduce((sum, g) => sum + g.costUSD, 0);
      const seriesRequests = report.series.reduce(
        (sum, p) => sum + Object.values(p.groups).reduce((n, g) => n + g.requests, 0),
        0,
      );
      expect(groupCost).toBeCloseTo(report.totals.costUSD, 6);
      expect(seriesRequests).toBe(report.totals.requests);
    }
    const savings = savingsReport.parse(await source.savings({ sinceMs: 86_400_000 }));
    expect(savings.total.savedUSD).toBeGreaterThan(0);
    expect(savings.routes.find((r) => r.route === 'chat')?.strongShare).toBeGreaterThan(0);
  });

  it('has budgets unless told not to', async () => {
    expect((await source.budgets()).budgets.length).toBeGreaterThan(0);
    const bare = createFixtureFinopsSource({ now: () => NOW, budgets: false });
    expect(await bare.budgets()).toEqual({ budgets: [] });
  });
});
