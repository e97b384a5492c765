// `modelroute report` output: a table for people, CSV for FinOps tools (the
// FOCUS column names where one applies, x_-prefixed columns for the rest, as
// FOCUS asks of custom columns), JSON for scripts.
import type { SavingsReport, UsageGroup, UsageReport } from './api-types.js';

export type ReportFormat = 'table' | 'csv' | 'json';

export interface Report {
  usage: UsageReport;
  savings: SavingsReport;
}

const money = (n: number): string => (n >= 1 ? n.toFixed(2) : n.toFixed(6));
const percent = (saved: number, baseline: number): string =>
  baseline > 0 ? `${((saved / baseline) * 100).toFixed(1)}%` : '-';
const tokens = (g: UsageGroup): number => g.inputTokens + g.outputTokens;

export function renderReport(report: Report, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(report, null, 2);
    case 'csv':
      return focusCsv(report.usage);
    case 'table':
      return table(report);
  }
}

function table({ usage, savings }: Report): string {
  const header = [
    usage.by.toUpperCase(),
    'REQUESTS',
    'ERRORS',
    'TOKENS IN',
    'TOKENS OUT',
    'COST (USD)',
    'MOST EXPENSIVE (USD)',
    'SAVED',
    'STRONG',
  ];
  const row = (key: string, g: Omit<UsageGroup, 'key'>): string[] => [
    key === '' ? '(none)' : key,
    String(g.requests),
    String(g.errors),
    String(g.inputTokens),
    String(g.outputTokens),
    money(g.costUSD),
    money(g.mostExpensiveCostUSD),
    `${money(Math.max(0, g.mostExpensiveCostUSD - g.costUSD))} (${percent(g.mostExpensiveCostUSD - g.costUSD, g.mostExpensiveCostUSD)})`,
    g.tieredRequests > 0 ? `${((g.strongRequests / g.tieredRequests) * 100).toFixed(1)}%` : '-',
  ];
  const rows = [header, ...usage.groups.map((g) => row(g.key, g)), row('TOTAL', usage.totals)];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  const t = savings.total;
  return [
    `modelroute usage by ${usage.by}, ${usage.from} to ${usage.to}`,
    '',
    ...lines,
    '',
    `saved $${money(t.savedUSD)} (${(t.savedFraction * 100).toFixed(1)}%) against each route's most expensive eligible backend; the strongest would have cost $${money(t.strongestCostUSD)}`,
  ].join('\n');
}

/** Where a grouping lands among FOCUS's columns. */
const FOCUS_COLUMN: Record<UsageReport['by'], 'SubAccountName' | 'ResourceName' | 'ResourceId'> = {
  tenant: 'SubAccountName',
  namespace: 'SubAccountName',
  workload: 'ResourceName',
  route: 'ResourceId',
  rule: 'ResourceName',
  model: 'ResourceName',
  backend: 'ResourceId',
  tier: 'ResourceName',
};

export const FOCUS_HEADER = [
  'ChargePeriodStart',
  'ChargePeriodEnd',
  'BillingCurrency',
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  'ChargeCategory',
  'ChargeDescription',
  'ServiceName',
  'ServiceCategory',
  'ConsumedQuantity',
  'ConsumedUnit',
  'SubAccountName',
  'ResourceId',
  'ResourceName',
  'Tags',
  'x_Requests',
  'x_Errors',
  'x_InputTokens',
  'x_OutputTokens',
  'x_CachedInputTokens',
  'x_CacheWriteTokens',
  'x_MostExpensiveCost',
  'x_StrongestCost',
  'x_SavedCost',
] as const;

function csvCell(value: string | number): string {
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One row per group over the whole window: costs are estimates at list price. */
export function focusCsv(usage: UsageReport): string {
  const column = FOCUS_COLUMN[usage.by];
  const lines = [FOCUS_HEADER.join(',')];
  for (const g of usage.groups) {
    const key = g.key === '' ? '(none)' : g.key;
    const cells: Record<(typeof FOCUS_HEADER)[number], string | number> = {
      ChargePeriodStart: usage.from,
      ChargePeriodEnd: usage.to,
      BillingCurrency: 'USD',
      BilledCost: g.costUSD,
      EffectiveCost: g.costUSD,
      ListCost: g.costUSD,
      ChargeCategory: 'Usage',
      ChargeDescription: `LLM tokens by ${usage.by} ${key} (estimated by modelroute from backend pricing)`,
      ServiceName: 'modelroute',
      ServiceCategory: 'AI and Machine Learning',
      ConsumedQuantity: tokens(g),
      ConsumedUnit: 'Tokens',
      SubAccountName: column === 'SubAccountName' ? key : '',
      ResourceId: column === 'ResourceId' ? key : '',
      ResourceName: column === 'ResourceName' ? key : '',
      Tags: JSON.stringify({ [`modelroute.io/${usage.by}`]: key }),
      x_Requests: g.requests,
      x_Errors: g.errors,
      x_InputTokens: g.inputTokens,
      x_OutputTokens: g.outputTokens,
      x_CachedInputTokens: g.cachedInputTokens,
      x_CacheWriteTokens: g.cacheWriteTokens,
      x_MostExpensiveCost: g.mostExpensiveCostUSD,
      x_StrongestCost: g.strongestCostUSD,
      x_SavedCost: Math.max(0, Math.round((g.mostExpensiveCostUSD - g.costUSD) * 1e6) / 1e6),
    };
    lines.push(FOCUS_HEADER.map((h) => csvCell(cells[h])).join(','));
  }
  return lines.join('\n');
}
