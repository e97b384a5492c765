import { describe, expect, it } from '@jest/globals';
import { zeroTotals } from '../finops/attribution.js';
import { FOCUS_HEADER } from '../finops/report-format.js';
import { UsageLedger } from '../finops/usage-ledger.js';
import { runReport, type ReportDeps } from './report.js';

const NOW = Date.UTC(2026, 11, 4, 12);
const ledger = new UsageLedger(() => NOW);
const row = (tenant: string, model: string, costUSD: number, mostExpensiveCostUSD: number) =>
  ledger.add(
    NOW,
    {
      route: 'ns/chat',
      rule: 'r',
      backend: `ns/${model}`,
      model,
      tier: '',
      tenant,
      namespace: 'ns',
      workload: 'w',
    },
    {
      ...zeroTotals(),
      requests: 10,
      inputTokens: 1000,
      outputTokens: 100,
      costUSD,
      mostExpensiveCostUSD,
    },
  );
row('team-a', 'small', 1.5, 6);
row('team-b, "quoted"', 'big', 4, 4);

/** A FinOps API answering from the ledger above, as the dev proxy does. */
function deps(calls: string[] = []): ReportDeps {
  return {
    now: () => NOW,
    env: { MODELROUTE_ADMIN_TOKEN: 'secret-token' },
    connect: () => {
      throw new Error('no cluster in this test');
    },
    fetch: ((input: URL, init?: RequestInit) => {
      const url = new URL(String(input));
      calls.push(
        `${url.pathname}${url.search} ${(init?.headers as Record<string, string>).authorization}`,
      );
      const since = Number(url.searchParams.get('since')?.slice(0, -1)) * 60_000;
      const body =
        url.pathname === '/api/v1/usage'
          ? ledger.usage({ sinceMs: since, by: url.searchParams.get('by') as 'tenant', step: '1d' })
          : ledger.savings({ sinceMs: since });
      return Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
    }) as typeof fetch,
  };
}

async function run(args: string[], d = deps()) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runReport(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, d);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('modelroute report', () => {
  it('prints spend and savings by tenant from a FinOps API, with the admin token', async () => {
    const calls: string[] = [];
    const { code, out } = await run(['--url', 'http://127.0.0.1:9', '--since', '7d'], deps(calls));
    expect(code).toBe(0);
    expect(calls).toEqual([
      '/api/v1/usage?since=10080m&by=tenant&step=1d Bearer secret-token',
      '/api/v1/savings?since=10080m Bearer secret-token',
    ]);
    expect(out).toMatch(/team-a\s+10\s+0\s+1000\s+100\s+1\.50\s+6\.00\s+4\.50 \(75\.0%\)/);
    expect(out).toMatch(/TOTAL\s+20 /);
    expect(out).toContain('saved $4.50 (45.0%)');
  });

  it('writes FOCUS CSV: one row per group, quoted where needed', async () => {
    const { code, out } = await run([
      '--url',
      'http://127.0.0.1:9',
      '--by',
      'tenant',
      '--format',
      'csv',
    ]);
    expect(code).toBe(0);
    const [header, first, second] = out.split('\n');
    expect(header).toBe(FOCUS_HEADER.join(','));
    expect(first).toContain(',USD,4,4,4,Usage,');
    expect(second).toContain(',team-a,,,');
    expect(out).toContain('"team-b, ""quoted"""');
  });

  it('refuses bad flags with what is allowed', async () => {
    expect(await run(['--by', 'colour'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('by must be one of tenant, namespace'),
    });
    expect(await run(['--since', '90d'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('at most 30d'),
    });
    expect(await run(['--format', 'xml'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('table, csv or json'),
    });
  });

  it('says what an API error was', async () => {
    const d = deps();
    d.fetch = () =>
      Promise.resolve(
        new Response(JSON.stringify({ error: { message: 'the bearer token was refused' } }), {
          status: 401,
        }),
      );
    const { code, err } = await run(['--url', 'http://127.0.0.1:9'], d);
    expect(code).toBe(1);
    expect(err).toContain('answered 401: the bearer token was refused');
  });
});
