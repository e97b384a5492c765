// The dashboard page: reads the FinOps API (../api/v1/…, so it also works behind
// a path prefix such as kubectl proxy's) and draws it with Chart.js. Plain
// browser JavaScript, no build step. Every figure it shows carries a
// data-testid and its raw value in data-value, so a test can compare it with
// the API's answer.
/* global document, window, fetch, sessionStorage, URLSearchParams, Chart */
import { formatCount, formatMs, formatPercent, formatUSD } from './format.js';

const TOKEN_KEY = 'modelroute.dashboard.token';
const WINDOWS = ['1h', '24h', '7d', '30d'];
const DIMENSIONS = ['tenant', 'route', 'model', 'namespace', 'backend'];
const REFRESH_MS = 60_000;
/** Series beyond this many in the spend chart are summed as "other". */
const MAX_SERIES = 7;
const PALETTE = [
  '#2563eb',
  '#16a34a',
  '#ea580c',
  '#9333ea',
  '#0891b2',
  '#db2777',
  '#ca8a04',
  '#4b5563',
  '#65a30d',
  '#dc2626',
];

const state = readHash();
const charts = { spend: undefined, mix: undefined, savings: undefined };
const colours = new Map();
let generation = 0;

class Unauthorized extends Error {}

function readHash() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const since = params.get('since');
  const by = params.get('by');
  return {
    since: WINDOWS.includes(since) ? since : '24h',
    by: DIMENSIONS.includes(by) ? by : 'tenant',
  };
}

function writeHash() {
  const hash = `#${new URLSearchParams({ since: state.since, by: state.by })}`;
  if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
}

/** One key keeps its colour across charts and refreshes. */
function colourOf(key) {
  if (!colours.has(key)) colours.set(key, PALETTE[colours.size % PALETTE.length]);
  return colours.get(key);
}

function label(key) {
  return key === '' ? '(none)' : key;
}

async function api(path, params = {}) {
  const headers = { accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  const query = new URLSearchParams(params).toString();
  const response = await fetch(`../api/v1/${path}${query ? `?${query}` : ''}`, {
    headers,
    cache: 'no-store',
  });
  if (response.status === 401) throw new Unauthorized(token ? 'refused' : 'missing');
  const body = await response.json().catch(() => undefined);
  if (!response.ok)
    throw new Error(body?.error?.message ?? `${path} answered HTTP ${response.status}`);
  return body;
}

async function refresh() {
  const mine = ++generation;
  document.body.dataset.state = 'loading';
  setStatus('Loading…');
  try {
    const since = state.since;
    const [usage, mix, savings, latency, timeline, budgets] = await Promise.all([
      api('usage', { since, by: state.by }),
      api('usage', { since, by: 'model' }),
      api('savings', { since }),
      api('latency', { since }),
      api('timeline', { since }),
      api('budgets'),
    ]);
    if (mine !== generation) return;
    show('token-panel', false);
    show('load-error', false);
    show('content', true);
    renderCards(usage, savings);
    renderSpend(usage);
    renderMix(mix);
    renderSavings(savings);
    renderLatency(latency);
    renderTimeline(timeline);
    renderBudgets(budgets);
    setStatus(`${formatTime(usage.from)} – ${formatTime(usage.to)}`);
    document.body.dataset.since = since;
    document.body.dataset.by = state.by;
    document.body.dataset.state = 'ready';
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof Unauthorized) return askForToken(err.message === 'refused');
    show('load-error', true);
    document.getElementById('load-error').textContent =
      `Could not load the figures: ${err.message}`;
    setStatus('');
    document.body.dataset.state = 'error';
  }
}

function askForToken(refused) {
  if (refused) sessionStorage.removeItem(TOKEN_KEY);
  show('content', false);
  show('token-panel', true);
  const error = document.getElementById('token-error');
  error.hidden = !refused;
  error.textContent = refused
    ? 'That token was refused (401). Check it against the admin token Secret and try again.'
    : '';
  setStatus('');
  document.body.dataset.state = 'token';
  document.getElementById('token-input').focus();
}

function setStatus(text) {
  document.querySelector('[data-testid="status"]').textContent = text;
}

function show(id, visible) {
  document.getElementById(id).hidden = !visible;
}

/** Sets a figure's text and its raw value (for tests) by data-testid. */
function setFigure(testid, value, format) {
  const node = document.querySelector(`[data-testid="${testid}"]`);
  node.textContent = value === undefined ? '—' : format(value);
  node.dataset.value = value === undefined ? '' : String(value);
}

function renderCards(usage, savings) {
  const t = usage.totals;
  setFigure('total-spend', t.costUSD, formatUSD);
  setFigure('total-requests', t.requests, formatCount);
  setFigure('total-saved', savings.total.savedUSD, formatUSD);
  setFigure('total-saved-pct', savings.total.savedFraction, formatPercent);
  setFigure('total-most-expensive', savings.total.mostExpensiveCostUSD, formatUSD);
  const share = t.tieredRequests > 0 ? t.strongRequests / t.tieredRequests : undefined;
  setFigure('strong-share', share, formatPercent);
  const detail = document.querySelector('[data-testid="strong-share-detail"]');
  if (share === undefined) detail.replaceChildren('no cost-quality rule decided in this window');
  else
    detail.replaceChildren(
      figureSpan('strong-requests', t.strongRequests, formatCount),
      ' of ',
      figureSpan('tiered-requests', t.tieredRequests, formatCount),
      ' decided requests sent to the strong tier',
    );
  setFigure('total-errors', t.errors, formatCount);
  setFigure('total-fallbacks', t.fallbacks, formatCount);
  setFigure('error-rate', t.requests > 0 ? t.errors / t.requests : 0, formatPercent);
}

function formatTime(iso) {
  return new Date(iso).toLocaleString([], {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

function bucketLabel(iso, step) {
  const date = new Date(iso);
  if (step === '1d') return date.toLocaleDateString([], { month: 'short', day: 'numeric' });
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return state.since === '1h' || state.since === '24h'
    ? time
    : `${date.toLocaleDateString([], { weekday: 'short' })} ${time}`;
}

function renderSpend(usage) {
  const keys = usage.groups.map((g) => g.key);
  const shown = keys.slice(0, MAX_SERIES);
  const rest = keys.slice(MAX_SERIES);
  const datasets = shown.map((key) => ({
    label: label(key),
    data: usage.series.map((p) => p.groups[key]?.costUSD ?? 0),
    backgroundColor: colourOf(`${usage.by}:${key}`),
  }));
  if (rest.length > 0)
    datasets.push({
      label: `other (${rest.length})`,
      data: usage.series.map((p) => rest.reduce((sum, k) => sum + (p.groups[k]?.costUSD ?? 0), 0)),
      backgroundColor: '#9ca3af',
    });
  const labels = usage.series.map((p) => bucketLabel(p.start, usage.step));
  charts.spend = drawChart(charts.spend, 'spend-chart', {
    type: 'bar',
    data: { labels, datasets },
    options: {
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, ticks: { callback: (v) => formatUSD(v) } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: {
          callbacks: { label: (item) => `${item.dataset.label}: ${formatUSD(item.parsed.y)}` },
        },
      },
    },
  });
}

function renderMix(mix) {
  const groups = mix.groups.filter((g) => g.requests > 0);
  const total = groups.reduce((sum, g) => sum + g.requests, 0);
  charts.mix = drawChart(charts.mix, 'mix-chart', {
    type: 'doughnut',
    data: {
      labels: groups.map((g) => label(g.key)),
      datasets: [
        {
          data: groups.map((g) => g.requests),
          backgroundColor: groups.map((g) => colourOf(`model:${g.key}`)),
        },
      ],
    },
    options: {
      cutout: '60%',
      plugins: {
        legend: { position: 'right' },
        tooltip: {
          callbacks: {
            label: (item) =>
              `${item.label}: ${formatCount(item.parsed)} requests (${formatPercent(item.parsed / total)})`,
          },
        },
      },
    },
  });
  replaceRows(
    'mix-rows',
    groups.map((g) =>
      row('model-row', g.key, [
        cell(label(g.key)),
        num('model-requests', g.requests, formatCount),
        num('model-share', total > 0 ? g.requests / total : 0, formatPercent),
        num('model-spend', g.costUSD, formatUSD),
      ]),
    ),
    4,
    'No requests in this window.',
  );
}

function renderSavings(savings) {
  charts.savings = drawChart(charts.savings, 'savings-chart', {
    type: 'bar',
    data: {
      labels: savings.routes.map((r) => r.route),
      datasets: [
        { label: 'spent', data: savings.routes.map((r) => r.costUSD), backgroundColor: '#2563eb' },
        {
          label: 'on the most expensive backend',
          data: savings.routes.map((r) => r.mostExpensiveCostUSD),
          backgroundColor: '#d1d5db',
        },
      ],
    },
    options: {
      indexAxis: 'y',
      scales: { x: { ticks: { callback: (v) => formatUSD(v) } }, y: { grid: { display: false } } },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: {
          callbacks: { label: (item) => `${item.dataset.label}: ${formatUSD(item.parsed.x)}` },
        },
      },
    },
  });
  replaceRows(
    'savings-rows',
    savings.routes.map((r) =>
      row('savings-row', r.route, [
        cell(r.route),
        num('savings-requests', r.requests, formatCount),
        num('savings-cost', r.costUSD, formatUSD),
        num('savings-most-expensive', r.mostExpensiveCostUSD, formatUSD),
        savedCell(r),
        num('savings-strong-share', r.strongShare, formatPercent),
      ]),
    ),
    6,
    'No traffic in this window.',
  );
}

function savedCell(r) {
  const td = el('td', { class: 'num' });
  td.append(
    figureSpan('savings-saved', r.savedUSD, formatUSD),
    ' ',
    el(
      'span',
      { class: 'muted' },
      '(',
      figureSpan('savings-saved-pct', r.savedFraction, formatPercent),
      ')',
    ),
  );
  return td;
}

function renderLatency(latency) {
  replaceRows(
    'latency-rows',
    latency.routes.map((r) =>
      row('latency-row', `${r.route}/${r.backend}`, [
        cell(r.route),
        cell(r.backend),
        num('latency-requests', r.requests, formatCount),
        num('latency-p50', r.p50Ms, formatMs),
        num('latency-p95', r.p95Ms, formatMs),
        num('latency-p99', r.p99Ms, formatMs),
        num('latency-ttft-p50', r.ttftP50Ms, formatMs),
        num('latency-ttft-p95', r.ttftP95Ms, formatMs),
        num('latency-ttft-p99', r.ttftP99Ms, formatMs),
      ]),
    ),
    9,
    'No requests in this window.',
  );
}

function renderTimeline(timeline) {
  const list = document.getElementById('timeline');
  list.replaceChildren(
    ...timeline.entries.map((e) => {
      const where = [e.route, e.backend].filter(Boolean).join(' · ');
      const item = el(
        'li',
        { 'data-testid': 'timeline-entry', 'data-kind': e.kind },
        el('time', { dateTime: e.time }, formatTime(e.time)),
        el('span', { class: `badge ${e.kind}` }, e.kind),
        el('span', { class: 'where' }, where),
      );
      if (e.count !== undefined)
        item.append(figureSpan('timeline-count', e.count, formatCount, 'count'));
      item.append(el('span', { class: 'message' }, e.message));
      return item;
    }),
  );
  if (timeline.entries.length === 0)
    list.append(el('li', { class: 'empty' }, 'No errors or failovers in this window.'));
}

function renderBudgets(report) {
  show('budgets-panel', report.budgets.length > 0);
  replaceRows(
    'budget-rows',
    report.budgets.map((b) => {
      const used = el('td', { class: 'used' });
      const bar = el('span', { class: 'meter' }, el('span', { class: level(b.ratio) }));
      // CSSOM, not a style attribute: allowed by the page's CSP.
      bar.firstChild.style.width = `${Math.min(100, b.ratio * 100)}%`;
      used.append(bar, figureSpan('budget-pct', b.ratio, formatPercent));
      return row('budget-row', `${b.scope}/${b.namespace ?? ''}/${b.name}`, [
        cell(`${b.scope} ${b.namespace ? `${b.namespace}/` : ''}${b.name}`),
        cell(b.window),
        num('budget-spent', b.spentUSD, formatUSD),
        num('budget-limit', b.limitUSD, formatUSD),
        used,
      ]);
    }),
    5,
    '',
  );
}

function level(ratio) {
  if (ratio >= 1) return 'over';
  return ratio >= 0.8 ? 'near' : 'ok';
}

function drawChart(existing, canvasId, config) {
  if (typeof Chart === 'undefined')
    throw new Error('Chart.js did not load (vendor/chart.umd.min.js)');
  existing?.destroy();
  config.options = {
    ...config.options,
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
  };
  return new Chart(document.getElementById(canvasId), config);
}

function replaceRows(id, rows, columns, emptyText) {
  const body = document.getElementById(id);
  body.replaceChildren(...rows);
  if (rows.length === 0 && emptyText)
    body.append(el('tr', {}, el('td', { class: 'empty', colSpan: columns }, emptyText)));
}

function row(testid, key, cells) {
  return el('tr', { 'data-testid': testid, 'data-key': key }, ...cells);
}

function cell(text) {
  return el('td', {}, text);
}

function num(testid, value, format) {
  return el('td', { class: 'num' }, figureSpan(testid, value, format));
}

function figureSpan(testid, value, format, className) {
  return el(
    'span',
    {
      class: className,
      'data-testid': testid,
      'data-value': value === undefined ? '' : String(value),
    },
    value === undefined ? '—' : format(value),
  );
}

/** Builds an element; text children are text nodes, never HTML. */
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('data-')) node.setAttribute(name, value);
    else node[name] = value;
  }
  node.append(...children);
  return node;
}

function selectWindow(since) {
  state.since = since;
  for (const button of document.querySelectorAll('[data-since]'))
    button.setAttribute('aria-pressed', String(button.dataset.since === since));
  writeHash();
}

function start() {
  for (const button of document.querySelectorAll('[data-since]'))
    button.addEventListener('click', () => {
      selectWindow(button.dataset.since);
      void refresh();
    });
  const by = document.getElementById('by');
  by.value = state.by;
  by.addEventListener('change', () => {
    state.by = by.value;
    writeHash();
    void refresh();
  });
  document.getElementById('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = document.getElementById('token-input');
    const token = input.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = '';
    void refresh();
  });
  window.addEventListener('hashchange', () => {
    const next = readHash();
    if (next.since === state.since && next.by === state.by) return;
    state.by = next.by;
    by.value = next.by;
    selectWindow(next.since);
    void refresh();
  });
  window.setInterval(() => {
    if (document.visibilityState === 'visible' && document.body.dataset.state === 'ready')
      void refresh();
  }, REFRESH_MS);
  selectWindow(state.since);
  void refresh();
}

start();
