// Prometheus text and PromQL, as far as the monitoring tests need them: which
// metric names the product registers, which names a query reads, a scrape's
// samples, and promtool input series that replay a scrape as a week of history.
import { createControllerMetrics } from '../../src/telemetry/controller-metrics.js';
import { createProxyMetrics } from '../../src/telemetry/proxy-metrics.js';

/**
 * Every series name the proxy and the controller can export: each family from
 * `# TYPE` lines, with a histogram's _bucket/_sum/_count and a summary's _sum/_count.
 */
export async function registeredMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const texts = [await createProxyMetrics().render(), await createControllerMetrics().render()];
  for (const text of texts) {
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name = '', type] = m;
      names.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
    }
  }
  return names;
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression (or a Grafana query with $variables) selects. */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/\d[\w.+-]*|([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, ident, call] = m;
    if (!ident || call || KEYWORDS.has(ident.toLowerCase())) continue;
    names.add(ident);
  }
  return [...names];
}

export interface Sample {
  name: string;
  /** The label set as exposed, e.g. `{route="default/chat",code="200"}` ('' without labels). */
  labels: string;
  value: number;
}

/** The samples of a text exposition (no timestamps: prom-client writes none). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels: m[2] ?? '', value });
  }
  return out;
}

/** A week of history and then the hour the test's traffic stands for, at one sample a minute. */
export const HISTORY_MINUTES = 7 * 24 * 60;
export const REPLAY_MINUTES = 60;
/** The evaluation time: the end of the replayed hour. */
export const EVAL_TIME = `${(HISTORY_MINUTES + REPLAY_MINUTES) / 60}h`;
/** A quiet week: each hour of it saw this share of the replayed hour's traffic. */
export const QUIET_SHARE = 0.05;

const COUNTER_SUFFIX = /(_total|_bucket|_sum|_count)$/;

/**
 * promtool input_series for a scrape. A counter that reached v is replayed as
 * a week growing by v × QUIET_SHARE an hour and then a last hour growing by v
 * (so rates and ratios in that hour are the scrape's, and the cost-anomaly
 * rule sees the hour at 1/QUIET_SHARE times its usual); a gauge keeps its value.
 */
export function replayAsHistory(samples: readonly Sample[]): { series: string; values: string }[] {
  const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toPrecision(12));
  return samples.map(({ name, labels, value }) => {
    const series = name + labels;
    if (!COUNTER_SUFFIX.test(name))
      return { series, values: `${fmt(value)}+0x${HISTORY_MINUTES + REPLAY_MINUTES}` };
    const quietPerMinute = (value * QUIET_SHARE) / 60;
    const busyPerMinute = value / 60;
    const weekEnd = quietPerMinute * HISTORY_MINUTES;
    return {
      series,
      values: `0+${fmt(quietPerMinute)}x${HISTORY_MINUTES} ${fmt(weekEnd + busyPerMinute)}+${fmt(busyPerMinute)}x${REPLAY_MINUTES - 1}`,
    };
  });
}
