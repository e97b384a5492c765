// An in-memory FinopsSource with 30 days of realistic, seeded traffic: four
// tenants, three routes (one cost-quality rule with a strong and a weak tier),
// four models on five backends, an Anthropic outage five hours ago that failed
// over to vLLM, and two budgets. For the dashboard's tests and screenshots.
import type {
  BudgetView,
  FinopsSource,
  LatencySummary,
  RouteSavings,
  TimelineEntry,
  UsageDimension,
  UsageGroup,
  UsagePoint,
  UsageTotals,
} from '../../finops/api-types.js';
import { seededRandom } from '../../routing/random.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const DAYS_KEPT = 30;

interface Price {
  /** USD per million tokens. */
  input: number;
  output: number;
}

interface Backend {
  name: string;
  model: string;
  price: Price;
  latencyMs: { p50: number; p95: number; p99: number };
  ttftMs?: { p50: number; p95: number; p99: number };
}

const BACKENDS = {
  gpt4o: {
    name: 'openai-gpt-4o',
    model: 'gpt-4o',
    price: { input: 2.5, output: 10 },
    latencyMs: { p50: 1840, p95: 4210, p99: 6930 },
    ttftMs: { p50: 420, p95: 980, p99: 1610 },
  },
  mini: {
    name: 'openai-gpt-4o-mini',
    model: 'gpt-4o-mini',
    price: { input: 0.15, output: 0.6 },
    latencyMs: { p50: 910, p95: 2130, p99: 3380 },
    ttftMs: { p50: 260, p95: 610, p99: 1040 },
  },
  sonnet: {
    name: 'anthropic-sonnet',
    model: 'claude-sonnet-4',
    price: { input: 3, output: 15 },
    latencyMs: { p50: 3120, p95: 7480, p99: 11250 },
  },
  llama: {
    name: 'vllm-llama-8b',
    model: 'llama-3.1-8b',
    price: { input: 0.05, output: 0.05 },
    latencyMs: { p50: 140, p95: 390, p99: 720 },
  },
} satisfies Record<string, Backend>;

interface RouteShape {
  name: string;
  rule: string;
  /** Served by, with the share of requests; tier set for a cost-quality rule. */
  targets: { backend: Backend; share: number; tier?: 'strong' | 'weak' }[];
  fallback?: Backend;
  mostExpensive: Backend;
  strongest: Backend;
  inputTokens: number;
  outputTokens: number;
  /** Share of input tokens read from the provider's prompt cache. */
  cachedShare: number;
}

const ROUTES: Record<'chat' | 'summarize' | 'classify', RouteShape> = {
  chat: {
    name: 'chat',
    rule: 'cost-quality',
    targets: [
      { backend: BACKENDS.gpt4o, share: 0.27, tier: 'strong' },
      { backend: BACKENDS.mini, share: 0.73, tier: 'weak' },
    ],
    mostExpensive: BACKENDS.gpt4o,
    strongest: BACKENDS.gpt4o,
    inputTokens: 1400,
    outputTokens: 320,
    cachedShare: 0.3,
  },
  summarize: {
    name: 'summarize',
    rule: 'long-documents',
    targets: [{ backend: BACKENDS.sonnet, share: 1 }],
    fallback: BACKENDS.llama,
    mostExpensive: BACKENDS.sonnet,
    strongest: BACKENDS.sonnet,
    inputTokens: 6200,
    outputTokens: 540,
    cachedShare: 0.45,
  },
  classify: {
    name: 'classify',
    rule: 'default',
    targets: [{ backend: BACKENDS.llama, share: 1 }],
    mostExpensive: BACKENDS.mini,
    strongest: BACKENDS.mini,
    inputTokens: 380,
    outputTokens: 8,
    cachedShare: 0,
  },
};

/** Who calls what, and how many requests an hour at the daily peak. */
const WORKLOADS: {
  tenant: string;
  namespace: string;
  workload: string;
  route: RouteShape;
  peakPerHour: number;
}[] = [
  {
    tenant: 'search',
    namespace: 'search',
    workload: 'search-api',
    route: ROUTES.chat,
    peakPerHour: 420,
  },
  {
    tenant: 'support',
    namespace: 'support',
    workload: 'support-bot',
    route: ROUTES.chat,
    peakPerHour: 260,
  },
  {
    tenant: 'support',
    namespace: 'support',
    workload: 'ticket-summarizer',
    route: ROUTES.summarize,
    peakPerHour: 70,
  },
  {
    tenant: 'analytics',
    namespace: 'analytics',
    workload: 'nightly-report',
    route: ROUTES.summarize,
    peakPerHour: 25,
  },
  {
    tenant: 'analytics',
    namespace: 'analytics',
    workload: 'tagger',
    route: ROUTES.classify,
    peakPerHour: 900,
  },
  // A caller without a tenant: its tenant key is "".
  {
    tenant: '',
    namespace: 'default',
    workload: 'legacy-batch',
    route: ROUTES.classify,
    peakPerHour: 150,
  },
];

/** One hour of one workload's traffic to one backend. */
interface LedgerRow {
  start: number;
  keys: Record<UsageDimension, string>;
  totals: UsageTotals;
}

/** When an outage makes a route's first backend fail and its fallback serve. */
interface Outage {
  route: RouteShape;
  /** Hours before the current hour. */
  hoursAgo: number;
  errorRate: number;
}

export interface FixtureFinopsSourceOptions {
  /** Milliseconds since the epoch; the data ends in the hour holding it. */
  now?: () => number;
  /** Without budgets the dashboard hides its budgets panel. Default: true. */
  budgets?: boolean;
  seed?: number;
}

function emptyTotals(): UsageTotals {
  return {
    requests: 0,
    errors: 0,
    fallbacks: 0,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    costUSD: 0,
    mostExpensiveCostUSD: 0,
    strongestCostUSD: 0,
    strongRequests: 0,
    tieredRequests: 0,
  };
}

const TOTALS_KEYS = Object.keys(emptyTotals()) as (keyof UsageTotals)[];

function addTotals(into: UsageTotals, add: UsageTotals): void {
  for (const key of TOTALS_KEYS) into[key] += add[key];
}

function tokenCost(price: Price, input: number, cached: number, output: number): number {
  return (
    ((input - cached) * price.input + cached * price.input * 0.1 + output * price.output) / 1e6
  );
}

function buildLedger(currentHour: number, random: () => number, outages: Outage[]): LedgerRow[] {
  const rows: LedgerRow[] = [];
  for (let h = DAYS_KEPT * 24 - 1; h >= 0; h--) {
    const start = currentHour - h * HOUR_MS;
    const hourOfDay = new Date(start).getUTCHours();
    const weekday = new Date(start).getUTCDay();
    // Busy in the (European) working day, quiet at night and at weekends.
    const daily = 0.25 + 0.75 * Math.max(0, Math.sin(((hourOfDay - 6) / 14) * Math.PI));
    const weekly = weekday === 0 || weekday === 6 ? 0.45 : 1;
    for (const caller of WORKLOADS) {
      const route = caller.route;
      const nightly = caller.workload === 'nightly-report' ? (hourOfDay === 2 ? 12 : 0.1) : 1;
      const requests = Math.round(
        caller.peakPerHour * daily * weekly * nightly * (0.8 + 0.4 * random()),
      );
      const outage = outages.find((o) => o.route === route && o.hoursAgo === h);
      for (const target of route.targets) {
        let served = Math.round(requests * target.share);
        let failedOver = 0;
        let errors = Math.round(served * 0.006 * random());
        if (outage && target === route.targets[0] && route.fallback) {
          // Some requests ran out of retries before the fallback took over.
          errors = Math.round(served * outage.errorRate * 0.08);
          failedOver = Math.round(served * outage.errorRate) - errors;
          served -= failedOver;
        }
        rows.push(
          row(start, caller, route, target.backend, served, errors, 0, target.tier, random),
        );
        if (failedOver > 0 && route.fallback)
          rows.push(
            row(start, caller, route, route.fallback, failedOver, 0, failedOver, undefined, random),
          );
      }
    }
  }
  return rows;
}

function row(
  start: number,
  caller: (typeof WORKLOADS)[number],
  route: RouteShape,
  backend: Backend,
  requests: number,
  errors: number,
  fallbacks: number,
  tier: 'strong' | 'weak' | undefined,
  random: () => number,
): LedgerRow {
  const answered = requests - errors;
  const inputTokens = Math.round(answered * route.inputTokens * (0.85 + 0.3 * random()));
  const outputTokens = Math.round(answered * route.outputTokens * (0.85 + 0.3 * random()));
  const cachedInputTokens = Math.round(inputTokens * route.cachedShare);
  const cacheWriteTokens = backend === BACKENDS.sonnet ? Math.round(inputTokens * 0.05) : 0;
  const at = (b: Backend) =>
    tokenCost(b.price, inputTokens, cachedInputTokens, outputTokens) +
    (b === BACKENDS.sonnet ? (cacheWriteTokens * b.price.input * 0.25) / 1e6 : 0);
  const costUSD = at(backend);
  return {
    start,
    keys: {
      tenant: caller.tenant,
      namespace: caller.namespace,
      workload: caller.workload,
      route: route.name,
      rule: route.rule,
      model: backend.model,
      backend: backend.name,
      tier: tier ?? '',
    },
    totals: {
      requests,
      errors,
      fallbacks,
      inputTokens,
      outputTokens,
      cachedInputTokens,
      cacheWriteTokens,
      costUSD,
      mostExpensiveCostUSD: Math.max(costUSD, at(route.mostExpensive)),
      strongestCostUSD: at(route.strongest),
      strongRequests: tier === 'strong' ? requests : 0,
      tieredRequests: tier ? requests : 0,
    },
  };
}

export function createFixtureFinopsSource(options: FixtureFinopsSourceOptions = {}): FinopsSource {
  const now = options.now ?? Date.now;
  const withBudgets = options.budgets ?? true;
  const outages: Outage[] = [
    { route: ROUTES.summarize, hoursAgo: 5, errorRate: 0.85 },
    { route: ROUTES.summarize, hoursAgo: 4, errorRate: 0.3 },
    { route: ROUTES.summarize, hoursAgo: 77, errorRate: 0.6 },
  ];
  let cached: { hour: number; rows: LedgerRow[] } | undefined;
  const ledger = (): { hour: number; rows: LedgerRow[] } => {
    const hour = Math.floor(now() / HOUR_MS) * HOUR_MS;
    if (cached?.hour !== hour)
      cached = { hour, rows: buildLedger(hour, seededRandom(options.seed ?? 16), outages) };
    return cached;
  };
  /** The rows of the window ending now, from the hour holding its start. */
  const window = (sinceMs: number) => {
    const to = now();
    const from = Math.floor((to - sinceMs) / HOUR_MS) * HOUR_MS;
    const rows = ledger().rows.filter((r) => r.start >= from);
    return { from, to, rows, bounds: { from: iso(from), to: iso(to) } };
  };

  return {
    usage({ sinceMs, by, step }) {
      const { from, to, rows, bounds } = window(sinceMs);
      const stepMs = step === '1h' ? HOUR_MS : DAY_MS;
      const totals = emptyTotals();
      const groups = new Map<string, UsageGroup>();
      const series: UsagePoint[] = [];
      for (let start = Math.floor(from / stepMs) * stepMs; start <= to; start += stepMs)
        series.push({ start: iso(start), groups: {} });
      const firstBucket = Math.floor(from / stepMs) * stepMs;
      for (const r of rows) {
        addTotals(totals, r.totals);
        const key = r.keys[by];
        let group = groups.get(key);
        if (!group) groups.set(key, (group = { key, ...emptyTotals() }));
        addTotals(group, r.totals);
        const point = series[Math.floor((r.start - firstBucket) / stepMs)];
        if (!point) continue;
        const cell = (point.groups[key] ??= { costUSD: 0, requests: 0 });
        cell.costUSD += r.totals.costUSD;
        cell.requests += r.totals.requests;
      }
      const sorted = [...groups.values()].sort((a, b) => b.costUSD - a.costUSD);
      return Promise.resolve({ ...bounds, by, step, totals, groups: sorted, series });
    },

    savings({ sinceMs }) {
      const { rows, bounds } = window(sinceMs);
      const byRoute = new Map<string, UsageTotals>();
      const total = emptyTotals();
      for (const r of rows) {
        let sum = byRoute.get(r.keys.route);
        if (!sum) byRoute.set(r.keys.route, (sum = emptyTotals()));
        addTotals(sum, r.totals);
        addTotals(total, r.totals);
      }
      const routes = [...byRoute].map(([route, t]) => ({ route, ...savingsOf(t) }));
      routes.sort((a, b) => b.savedUSD - a.savedUSD);
      const { strongShare: _, ...overall } = savingsOf(total);
      return Promise.resolve({ ...bounds, routes, total: overall });
    },

    latency({ sinceMs }) {
      const { rows, bounds } = window(sinceMs);
      const requests = new Map<string, number>();
      for (const r of rows) {
        const key = `${r.keys.route}\n${r.keys.backend}`;
        requests.set(key, (requests.get(key) ?? 0) + r.totals.requests);
      }
      const backends = Object.values(BACKENDS) as Backend[];
      const routes: LatencySummary[] = [...requests].map(([key, count]) => {
        const [route = '', backendName = ''] = key.split('\n');
        const backend: Backend = backends.find((b) => b.name === backendName) ?? BACKENDS.llama;
        return {
          route,
          backend: backendName,
          requests: count,
          p50Ms: backend.latencyMs.p50,
          p95Ms: backend.latencyMs.p95,
          p99Ms: backend.latencyMs.p99,
          ...(backend.ttftMs && {
            ttftP50Ms: backend.ttftMs.p50,
            ttftP95Ms: backend.ttftMs.p95,
            ttftP99Ms: backend.ttftMs.p99,
          }),
        };
      });
      routes.sort((a, b) => a.route.localeCompare(b.route) || b.requests - a.requests);
      return Promise.resolve({ ...bounds, routes });
    },

    timeline({ sinceMs }) {
      const { rows, bounds, from } = window(sinceMs);
      const hour = ledger().hour;
      const entries: TimelineEntry[] = [];
      for (const outage of outages) {
        const start = hour - outage.hoursAgo * HOUR_MS;
        if (start < from) continue;
        const primary = outage.route.targets[0]?.backend.name ?? '';
        const fallback = outage.route.fallback?.name ?? '';
        const errors = rows
          .filter((r) => r.start === start && r.keys.route === outage.route.name)
          .reduce((n, r) => n + r.totals.errors, 0);
        if (!outages.some((o) => o.route === outage.route && o.hoursAgo === outage.hoursAgo + 1))
          entries.push({
            time: iso(start + 7 * 60_000),
            kind: 'failover',
            route: outage.route.name,
            backend: primary,
            message: `${primary} answered 529 overloaded; failing over to ${fallback}`,
          });
        entries.push({
          time: iso(start),
          kind: 'errors',
          route: outage.route.name,
          backend: primary,
          count: errors,
          message: `${errors} requests failed after retries and fallback`,
        });
        if (!outages.some((o) => o.route === outage.route && o.hoursAgo === outage.hoursAgo - 1))
          entries.push({
            time: iso(start + 52 * 60_000),
            kind: 'recovery',
            route: outage.route.name,
            backend: primary,
            message: `${primary} is healthy again; traffic returns from ${fallback}`,
          });
      }
      entries.sort((a, b) => b.time.localeCompare(a.time));
      return Promise.resolve({ ...bounds, entries });
    },

    budgets() {
      if (!withBudgets) return Promise.resolve({ budgets: [] });
      const spent = (sinceMs: number, match: (r: LedgerRow) => boolean) =>
        window(sinceMs)
          .rows.filter(match)
          .reduce((sum, r) => sum + r.totals.costUSD, 0);
      const monthStart = new Date(now());
      monthStart.setUTCDate(1);
      monthStart.setUTCHours(0, 0, 0, 0);
      const budgets: BudgetView[] = [
        budget(
          'tenant',
          'support',
          'support',
          '24h',
          30,
          spent(DAY_MS, (r) => r.keys.tenant === 'support'),
        ),
        budget(
          'tenant',
          'search',
          'search',
          '24h',
          12,
          spent(DAY_MS, (r) => r.keys.tenant === 'search'),
        ),
        budget(
          'route',
          'ml-platform',
          'summarize',
          'month',
          150,
          spent(now() - monthStart.getTime(), (r) => r.keys.route === 'summarize'),
        ),
      ];
      return Promise.resolve({ budgets });
    },
  };
}

function savingsOf(t: UsageTotals): Omit<RouteSavings, 'route'> {
  const savedUSD = Math.max(0, t.mostExpensiveCostUSD - t.costUSD);
  return {
    costUSD: t.costUSD,
    mostExpensiveCostUSD: t.mostExpensiveCostUSD,
    strongestCostUSD: t.strongestCostUSD,
    savedUSD,
    savedFraction: t.mostExpensiveCostUSD > 0 ? savedUSD / t.mostExpensiveCostUSD : 0,
    ...(t.tieredRequests > 0 && { strongShare: t.strongRequests / t.tieredRequests }),
    requests: t.requests,
  };
}

function budget(
  scope: 'tenant' | 'route',
  namespace: string,
  name: string,
  window: string,
  limitUSD: number,
  spentUSD: number,
): BudgetView {
  return { scope, namespace, name, window, limitUSD, spentUSD, ratio: spentUSD / limitUSD };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
