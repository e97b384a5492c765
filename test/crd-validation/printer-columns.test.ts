// `kubectl get modelroutes` / `kubectl get mb -o wide` show the columns an
// operator needs, read from real kubectl output.
import { join } from 'node:path';
import {
  REPO_ROOT,
  createNamespace,
  installCRDs,
  mustKubectl,
  parseTable,
} from '../support/cluster.js';

let namespace: string;

beforeAll(() => {
  installCRDs();
  namespace = createNamespace('printer-columns');
  mustKubectl(['apply', '-n', namespace, '-f', join(REPO_ROOT, 'manifests', 'samples')]);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const routeStatus = {
    status: {
      observedGeneration: 1,
      programmed: '3/3',
      healthyBackends: '2/3',
      usage: { window: '1h', requests: 1520, costUSD: 2.4375 },
      cost: {
        last24h: { requests: 30_100, costUSD: 48.125 },
        last30d: {
          requests: 801_000,
          costUSD: 1204.5,
          mostExpensiveCostUSD: 2980,
          strongestCostUSD: 2410,
          savedUSD: 1775.5,
          savedPercent: 59.6,
          strongShare: 0.21,
        },
        savings: '$1775.50 (59.6%)',
      },
      strongShare: {
        target: 0.2,
        realized: 0.213,
        threshold: 0.412,
        decisions: 1400,
        window: '1h',
      },
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          message: 'serving on 3 proxies',
          lastTransitionTime: now,
        },
      ],
    },
  };
  mustKubectl([
    'patch',
    'modelroute',
    'chat',
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify(routeStatus),
  ]);
  const backendStatus = {
    status: {
      health: {
        state: 'Unhealthy',
        reason: 'ProbeFailed',
        consecutiveFailures: 3,
        consecutiveSuccesses: 0,
      },
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'Unhealthy',
          message: 'probe timed out after 5s',
          lastTransitionTime: now,
        },
      ],
    },
  };
  mustKubectl([
    'patch',
    'mb',
    'gpt-4o',
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify(backendStatus),
  ]);
});

test('kubectl get modelroutes: MODEL, READY, PROGRAMMED, HEALTHY BACKENDS, last hour requests and cost, STRONG, SPEND/DAY, COST/24H, SAVED/30D, AGE', () => {
  const rows = parseTable(mustKubectl(['get', 'modelroutes', '-n', namespace]));
  expect(Object.keys(rows[0] ?? {})).toEqual([
    'NAME',
    'MODEL',
    'READY',
    'PROGRAMMED',
    'HEALTHY BACKENDS',
    'REQUESTS/1H',
    'COST/1H (USD)',
    'STRONG',
    'SPEND/DAY',
    'COST/24H (USD)',
    'SAVED/30D',
    'AGE',
  ]);
  expect(rows.find((r) => r.NAME === 'chat')).toMatchObject({
    'COST/24H (USD)': '48.125',
    'SAVED/30D': '$1775.50 (59.6%)',
    MODEL: 'chat',
    READY: 'True',
    PROGRAMMED: '3/3',
    'HEALTHY BACKENDS': '2/3',
    'REQUESTS/1H': '1520',
    'COST/1H (USD)': '2.4375',
    STRONG: '0.213',
  });
  expect(rows.find((r) => r.NAME === 'support-bot')).toMatchObject({
    MODEL: 'support-bot',
    READY: '',
    PROGRAMMED: '',
  });
  expect(rows.map((r) => r.NAME).sort()).toEqual([
    'chat',
    'clinical-assistant',
    'shared-chat',
    'summarize',
    'support-bot',
  ]);
});

test('kubectl get mb -o wide: PROVIDER, MODEL, HEALTH, prices, AGE and the message', () => {
  const rows = parseTable(mustKubectl(['get', 'mb', '-o', 'wide', '-n', namespace]));
  expect(Object.keys(rows[0] ?? {})).toEqual([
    'NAME',
    'PROVIDER',
    'MODEL',
    'HEALTH',
    '$/1M IN',
    '$/1M OUT',
    'AGE',
    'MESSAGE',
  ]);
  expect(rows.find((r) => r.NAME === 'gpt-4o')).toMatchObject({
    PROVIDER: 'openai',
    MODEL: 'gpt-4o',
    HEALTH: 'Unhealthy',
    '$/1M IN': '2.5',
    '$/1M OUT': '10',
    MESSAGE: 'probe timed out after 5s',
  });
  expect(rows.find((r) => r.NAME === 'claude-sonnet')).toMatchObject({
    PROVIDER: 'anthropic',
    '$/1M IN': '3',
    '$/1M OUT': '15',
  });
});

test('the message column is hidden without -o wide; short names and the category work', () => {
  const plain = parseTable(mustKubectl(['get', 'mr', '-n', namespace]));
  expect(Object.keys(plain[0] ?? {})).not.toContain('MESSAGE');
  const all = mustKubectl(['get', 'modelrouting', '-n', namespace, '-o', 'name'])
    .split('\n')
    .filter(Boolean);
  expect(all).toContain('modelroute.modelroute.io/chat');
  expect(all).toContain('modelbackend.modelroute.io/gpt-4o');
});

test('defaults from the schema are applied by the API server', () => {
  const mb = JSON.parse(
    mustKubectl(['get', 'mb', 'vllm-qwen-32b', '-n', namespace, '-o', 'json']),
  ) as { spec: { serviceRef: { path: string; scheme: string }; compliance: string[] } };
  expect(mb.spec.serviceRef).toMatchObject({ path: '/v1', scheme: 'http' });
  expect(mb.spec.compliance).toEqual([]);
});
