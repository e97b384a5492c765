// The chart's monitoring: the PrometheusRule parses (promtool check rules),
// every alert's expression returns data on metrics a real proxy produced
// (promtool test rules over its scrape), the Grafana dashboard reads only
// metric names the product exports, and the PodMonitor finds every proxy.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { budgetedObjects } from '../../src/controller/budget-ledger.js';
import { budgetUses } from '../../src/controller/budget-metrics.js';
import { createControllerMetrics } from '../../src/telemetry/controller-metrics.js';
import { PROXY_LABEL } from '../../src/webhook/sidecar-patch.js';
import { route, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { ensurePromtool } from '../testenv/build.js';
import { helm } from '../support/cluster.js';
import { CHART_DIR, findObject, renderChart, valuesFile, type K8sObject } from './chart.js';
import {
  EVAL_TIME,
  metricNamesIn,
  parseExposition,
  registeredMetricNames,
  replayAsHistory,
  type Sample,
} from './promql.js';

/**
 * Names piece A of issue 16 adds to the proxy (fixed in the contract, so the
 * rules and dashboard may read them before they land here). Once they are
 * registered this list is no longer consulted: delete it then.
 */
/** A cold promtool build takes minutes on 2 cores; rendering and promtool runs take seconds. */
const BUILD_TIMEOUT_MS = 30 * 60_000;
const CASE_TIMEOUT_MS = 120_000;

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}

function ruleGroups(values: object = {}): RuleGroup[] {
  const objects = renderChart({ prometheusRule: { enabled: true }, ...values });
  const rule = objects.find((o) => o.kind === 'PrometheusRule');
  if (!rule) throw new Error('the chart rendered no PrometheusRule with prometheusRule.enabled');
  return (rule.spec as { groups: RuleGroup[] }).groups;
}
const alertsOf = (groups: RuleGroup[]): Rule[] =>
  groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));

let promtool: string;
let work: string;
beforeAll(() => {
  promtool = ensurePromtool();
  work = mkdtempSync(join(tmpdir(), 'modelroute-monitoring-'));
}, BUILD_TIMEOUT_MS);

function runPromtool(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(promtool, args, { cwd: work, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout + r.stderr };
}

function writeRules(file: string, groups: RuleGroup[]): string {
  const path = join(work, file);
  writeFileSync(path, stringify({ groups }));
  return path;
}

/** Names the product does not export (contract names aside while piece A has not landed). */
function unknownNames(exprs: string[], registered: Set<string>): string[] {
  const unknown = new Set<string>();
  for (const expr of exprs)
    for (const name of metricNamesIn(expr)) if (!registered.has(name)) unknown.add(name);
  return [...unknown].sort();
}

test('helm lint --strict passes with the PodMonitor, the rules and the dashboard on', () => {
  const values = {
    podMonitor: { enabled: true, namespaces: ['team-a'] },
    prometheusRule: { enabled: true, alertLabels: { team: 'platform' } },
    grafanaDashboard: { enabled: true, namespace: 'monitoring' },
    gateway: { enabled: true },
  };
  const r = helm(['lint', '--strict', CHART_DIR, '-f', valuesFile(values)]);
  expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({
    code: 0,
    out: expect.stringContaining('0 chart(s) failed') as string,
  });
  // A misspelt threshold is refused by the schema, not ignored.
  const typo = helm([
    'template',
    'modelroute',
    CHART_DIR,
    '-f',
    valuesFile({ prometheusRule: { errorRate: { ratoi: 0.1 } } }),
  ]);
  expect(typo.code).not.toBe(0);
  expect(typo.stderr).toContain('ratoi');
});

describe('PrometheusRule', () => {
  test(
    'promtool check rules passes, with default values and with every threshold changed',
    () => {
      const variants = [
        {},
        {
          prometheusRule: {
            enabled: true,
            alertLabels: { team: 'platform' },
            window: '5m',
            costAnomaly: { factor: 2.5, minUSDPerHour: 10, for: '30m', severity: 'page' },
            latency: { p95Seconds: 12.5, ttftP95Seconds: 1.5, for: '5m', severity: 'page' },
          },
        },
      ];
      for (const [i, values] of variants.entries()) {
        const file = writeRules(`check-${i}.yaml`, ruleGroups(values));
        const r = runPromtool(['check', 'rules', file]);
        expect({ code: r.code, out: r.out }).toEqual({
          code: 0,
          out: expect.stringMatching(/SUCCESS: \d+ rules found/) as string,
        });
      }
      expect(alertsOf(ruleGroups()).map((r) => r.alert)).toEqual([
        'ModelRouteCostAnomaly',
        'ModelRouteBudgetNearlySpent',
        'ModelRouteBackendUnhealthy',
        'ModelRouteFailoverRateHigh',
        'ModelRouteErrorRateHigh',
        'ModelRouteLatencyHigh',
        'ModelRouteTimeToFirstTokenHigh',
      ]);
    },
    CASE_TIMEOUT_MS,
  );

  test('reads only metric names the proxy and the controller export', async () => {
    const registered = await registeredMetricNames();
    const exprs = alertsOf(ruleGroups()).map((r) => r.expr);
    expect(unknownNames(exprs, registered)).toEqual([]);
  });
});

describe('every alert returns data on metrics a real proxy produced', () => {
  let dp: DataPlane | undefined;
  afterAll(async () => {
    await dp?.close();
  });

  /**
   * One proxy, three simulated backends: route chat prefers a (always 500)
   * and fails over to b; route lonely has only c (always 502). Seven buffered
   * calls on chat (five failures of a open its circuit), two streamed ones,
   * two calls on lonely that fail (5xx to the client).
   */
  async function trafficScrape(): Promise<{ proxy: Sample[]; adminStatus: number }> {
    const pricing = { pricing: { inputPerMillion: 3, outputPerMillion: 15 } };
    dp = await startDataPlane(
      [
        { name: 'a', spec: pricing, simulator: { errorRate: 1, errorStatus: 500 } },
        { name: 'b', spec: pricing },
        { name: 'c', spec: pricing, simulator: { errorRate: 1, errorStatus: 502 } },
      ],
      [
        route('chat', {
          rules: [
            { name: 'all', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'b' }] },
          ],
          retries: { attempts: 2, backoff: '10ms', maxBackoff: '1s' },
        }),
        route('lonely', { rules: [{ name: 'all', backendRefs: [{ name: 'c' }] }] }),
      ],
    );
    const messages = [{ role: 'user' as const, content: 'Say hello.' }];
    for (let i = 0; i < 7; i++)
      await dp.client.chat.completions.create({ model: 'chat', messages });
    for (let i = 0; i < 2; i++) {
      const stream = await dp.client.chat.completions.create({
        model: 'chat',
        messages,
        stream: true,
      });
      for await (const chunk of stream) void chunk;
    }
    for (let i = 0; i < 2; i++)
      await expect(
        dp.client.chat.completions.create({ model: 'lonely', messages }),
      ).rejects.toMatchObject({ status: expect.any(Number) as number });
    // No token: what the PodMonitor does.
    const res = await fetch(`${dp.proxy.adminUrl}/metrics`);
    return { proxy: parseExposition(await res.text()), adminStatus: res.status };
  }

  /** The controller's budget gauge as it renders a route's day budget 85% spent. */
  async function controllerScrape(): Promise<Sample[]> {
    const metrics = createControllerMetrics();
    const budgeted = route('chat', {
      rules: [{ name: 'all', backendRefs: [{ name: 'b' }] }],
      budget: { dailyUSD: 100 },
    });
    metrics.budgetsFrom(() =>
      budgetUses(budgetedObjects([budgeted], []), [
        {
          key: 'route:default/chat',
          window: 'day',
          budgetUSD: 100,
          spentUSD: 85,
          resetAtMs: 0,
          onExceeded: 'refuse',
          state: 'warning',
        },
      ]),
    );
    return parseExposition(await metrics.render()).filter(
      (s) => s.name === 'modelroute_budget_used_ratio',
    );
  }

  test(
    'promtool evaluates each alert expression over the scrape replayed as a week of history',
    async () => {
      const { proxy, adminStatus } = await trafficScrape();
      expect(adminStatus).toBe(200);
      // The GenAI client metrics, beside the modelroute_* ones.
      const series = (name: string) => proxy.filter((s) => s.name === name);
      expect(series('gen_ai_client_token_usage_count').map((s) => s.labels)).toEqual(
        expect.arrayContaining([
          '{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="b-upstream",gen_ai_response_model="b-upstream",gen_ai_token_type="input"}',
        ]),
      );
      expect(series('gen_ai_client_operation_duration_seconds_count').map((s) => s.labels)).toEqual(
        expect.arrayContaining([expect.stringContaining('error_type="server-error"')]),
      );
      expect(series('gen_ai_client_operation_time_to_first_chunk_seconds_count')).toEqual([
        expect.objectContaining({ value: 2 }),
      ]);
      expect(series('modelroute_circuit_state')).toEqual(
        expect.arrayContaining([
          { name: 'modelroute_circuit_state', labels: '{backend="default/a"}', value: 2 },
        ]),
      );

      // Thresholds low enough for this small run: it proves each expression
      // selects and joins the series a proxy exports, not that the defaults fit.
      const firing = {
        prometheusRule: {
          enabled: true,
          costAnomaly: { minUSDPerHour: 0 },
          latency: { p95Seconds: 0.000001, ttftP95Seconds: 0.000001 },
        },
      };
      const groups = ruleGroups(firing);
      const alerts = alertsOf(groups);
      const used = new Set(alerts.flatMap((a) => metricNamesIn(a.expr)));
      const samples = [...proxy, ...(await controllerScrape())].filter((s) => used.has(s.name));
      // Each metric an alert reads is in the scrape.
      expect([...used].filter((n) => !samples.some((s) => s.name === n)).sort()).toEqual([]);

      const rulesFile = writeRules('firing.yaml', groups);
      const atLeastOne = (expr: string) => `clamp_max(count(${expr.trim()}), 1)`;
      const defaults = alertsOf(ruleGroups());
      const latencyAlerts = ['ModelRouteLatencyHigh', 'ModelRouteTimeToFirstTokenHigh'];
      const testFile = join(work, 'alerts.test.yaml');
      writeFileSync(
        testFile,
        stringify({
          rule_files: [rulesFile],
          evaluation_interval: '1m',
          tests: [
            {
              interval: '1m',
              input_series: replayAsHistory(samples),
              promql_expr_test: [
                ...alerts.map((a) => ({
                  expr: atLeastOne(a.expr),
                  eval_time: EVAL_TIME,
                  exp_samples: [{ labels: '{}', value: 1 }],
                })),
                // With the chart's default objectives (30 s, 5 s) a simulator's
                // milliseconds are no alert.
                ...defaults
                  .filter((a) => latencyAlerts.includes(a.alert ?? ''))
                  .map((a) => ({
                    expr: atLeastOne(a.expr),
                    eval_time: EVAL_TIME,
                    exp_samples: [],
                  })),
              ],
            },
          ],
        }),
      );
      const r = runPromtool(['test', 'rules', testFile]);
      expect({ code: r.code, out: r.out }).toEqual({
        code: 0,
        out: expect.stringContaining('SUCCESS') as string,
      });
    },
    CASE_TIMEOUT_MS,
  );
});

describe('Grafana dashboard', () => {
  const json = readFileSync(join(CHART_DIR, 'dashboards', 'modelroute.json'), 'utf8');
  interface Panel {
    type: string;
    title: string;
    targets?: { expr: string }[];
    panels?: Panel[];
  }
  const dashboard = JSON.parse(json) as { uid: string; panels: Panel[] };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

  test('every query reads only metric names the proxy and the controller export', async () => {
    const registered = await registeredMetricNames();
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(30);
    expect(unknownNames(exprs, registered)).toEqual([]);
    // Each non-row panel queries something.
    expect(
      panels.filter((p) => p.type !== 'row' && !p.targets?.length).map((p) => p.title),
    ).toEqual([]);
  });

  test('ships as a ConfigMap labelled for the Grafana sidecar, byte for byte', () => {
    expect(renderChart().some((o) => o.metadata.name.endsWith('grafana-dashboard'))).toBe(false);
    const objects = renderChart({
      grafanaDashboard: { enabled: true, annotations: { grafana_folder: 'LLM' } },
    });
    const cm = findObject(objects, 'ConfigMap', 'modelroute-grafana-dashboard') as K8sObject & {
      data: Record<string, string>;
    };
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.metadata.annotations).toEqual({ grafana_folder: 'LLM' });
    expect(JSON.parse(cm.data['modelroute.json']!)).toEqual(JSON.parse(json));
  });
});

describe('PodMonitor', () => {
  test('selects every proxy (sidecar and gateway) by the label and admin ports the webhook and gateway use', () => {
    expect(renderChart().some((o) => o.kind === 'PodMonitor')).toBe(false);
    const objects = renderChart({
      podMonitor: { enabled: true, labels: { release: 'kps' } },
      gateway: { enabled: true },
    });
    const pm = findObject(objects, 'PodMonitor', 'modelroute-proxies') as K8sObject & {
      spec: {
        selector: { matchLabels: Record<string, string> };
        namespaceSelector: object;
        podMetricsEndpoints: { port: string; path: string }[];
      };
    };
    expect(pm.metadata.labels?.release).toBe('kps');
    expect(pm.spec.namespaceSelector).toEqual({ any: true });
    // The label the webhook puts on every injected pod.
    expect(pm.spec.selector.matchLabels).toEqual({ [PROXY_LABEL]: 'true' });
    const gateway = findObject(objects, 'Deployment', 'modelroute-gateway') as K8sObject & {
      spec: {
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: { ports: { name: string }[] }[] };
        };
      };
    };
    const { labels } = gateway.spec.template.metadata;
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
    const ports = pm.spec.podMetricsEndpoints.map((e) => e.port);
    expect(ports).toEqual(['mr-admin', 'admin']);
    expect(gateway.spec.template.spec.containers[0]!.ports.map((p) => p.name)).toContain('admin');
    const limited = renderChart({ podMonitor: { enabled: true, namespaces: ['team-a'] } });
    expect(
      (
        findObject(limited, 'PodMonitor', 'modelroute-proxies').spec as {
          namespaceSelector: object;
        }
      ).namespaceSelector,
    ).toEqual({ matchNames: ['team-a'] });
  });
});
