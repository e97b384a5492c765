// How the dashboard writes numbers. Shared by the page and its tests, so a
// test can check that what is shown is the API's figure.

const grouped = new Intl.NumberFormat('en-US', {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * US dollars: "$1,234.56"; under a dollar three significant digits, so small
 * per-route costs still say something: "$0.0123", "$0.50", "$0.000123"; "$0.00" for none.
 */
export function formatUSD(value) {
  if (!Number.isFinite(value)) return '—';
  const sign = value < 0 ? '-' : '';
  const amount = Math.abs(value);
  if (amount === 0) return '$0.00';
  if (amount >= 0.995) return `${sign}$${grouped.format(amount)}`;
  const decimals = Math.min(8, Math.max(2, 2 - Math.floor(Math.log10(amount))));
  // Trailing zeros past the cents say nothing: $0.50, not $0.500.
  return `${sign}$${amount.toFixed(decimals).replace(/(\.\d\d\d*?)0+$/, '$1')}`;
}

/** A count of requests or tokens: "12,345". */
export function formatCount(value) {
  return Number.isFinite(value) ? whole.format(value) : '—';
}

/** A fraction as a percentage with one decimal: 0.5069 → "50.7%". */
export function formatPercent(fraction) {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)}%` : '—';
}

/** A latency: "390 ms", "4.21 s"; "—" when the API has no figure. */
export function formatMs(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
