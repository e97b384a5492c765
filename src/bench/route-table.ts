// The routing table the benchmarked proxy serves: the tiered-cost sample's shape, pointed at the simulator.
import {
  modelBackend,
  modelRoute,
  type ModelBackend,
  type ModelBackendInput,
  type ModelRoute,
} from '../api/v1alpha1/index.js';
import { compileRoutingTable } from '../routing/compile.js';
import type { RoutingTable } from '../routing/table.js';

/** The model name clients send. */
export const BENCH_MODEL = 'bench-chat';
/** What the proxy is expected to pick for the benchmark prompt (an easy one: the cheap backend). */
export const EXPECTED_BACKEND = 'default/small';
/** The upstream model of that backend: what the direct path and the floor send. */
export const UPSTREAM_MODEL = 'sim-small';
/** Secret the backends reference; the proxy child gets the key from MODELROUTE_SECRET_* env. */
export const API_KEY_ENV = 'MODELROUTE_SECRET_BENCH_CREDENTIALS_APIKEY';
export const API_KEY = 'sk-bench-0123456789abcdef0123456789abcdef';

/** Headers a client would send; none of the earlier rules matches them. */
export const CLIENT_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  authorization: 'Bearer sk-client-key-not-checked',
  'x-modelroute-tenant': 'initech',
  'x-channel': 'stable',
};

export const TABLE_DESCRIPTION =
  'one ModelRoute (3 rules: tenant match, header regex, cost-quality by difficulty; retries, timeouts, $0.25 budget) over 2 openai backends with pricing, context window, rpm/concurrency limits and a secretRef; the request matches the 3rd rule and is routed to the cheap backend with its model name rewritten';

function backend(name: string, spec: Partial<ModelBackendInput['spec']>, simUrl: string) {
  return modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name, namespace: 'default' },
    spec: {
      provider: 'openai',
      endpoint: `${simUrl}/v1`,
      secretRef: { name: 'bench-credentials', key: 'apiKey' },
      contextWindow: 128_000,
      maxOutputTokens: 16_384,
      // Limits far above the benchmark's rate: the limiter runs but never binds.
      limits: { rpm: 6_000_000, maxConcurrency: 10_000 },
      ...spec,
    },
  });
}

export function benchBackends(simUrl: string): ModelBackend[] {
  return [
    backend(
      'small',
      {
        model: UPSTREAM_MODEL,
        pricing: { inputPerMillion: 0.15, outputPerMillion: 0.6 },
        capabilities: ['chat', 'streaming', 'tools', 'json-mode'],
        quality: 0.55,
      },
      simUrl,
    ),
    backend(
      'large',
      {
        model: 'sim-large',
        pricing: { inputPerMillion: 2.5, outputPerMillion: 10, cachedInputPerMillion: 1.25 },
        capabilities: ['chat', 'streaming', 'tools', 'json-mode', 'reasoning'],
        quality: 0.9,
      },
      simUrl,
    ),
  ];
}

export function benchRoute(): ModelRoute {
  return modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'bench-chat', namespace: 'default' },
    spec: {
      model: BENCH_MODEL,
      rules: [
        {
          name: 'premium-tenants',
          matches: [{ tenants: ['acme-premium'] }],
          strategy: 'priority',
          backendRefs: [{ name: 'large' }, { name: 'small' }],
        },
        {
          name: 'beta-channel',
          matches: [
            { headers: [{ name: 'x-channel', type: 'RegularExpression', value: 'beta-[0-9]+' }] },
          ],
          backendRefs: [{ name: 'large' }],
        },
        {
          name: 'by-difficulty',
          strategy: 'cost-quality',
          costQuality: { threshold: 0.6 },
          backendRefs: [{ name: 'small' }, { name: 'large' }],
        },
      ],
      retries: { attempts: 2, backoff: '200ms', maxBackoff: '2s' },
      timeouts: { firstToken: '30s', total: '120s' },
      budget: { maxCostPerRequest: 0.25 },
    },
  });
}

export function benchTable(simUrl: string): RoutingTable {
  return compileRoutingTable([benchRoute()], benchBackends(simUrl));
}

/** The chat request every path sends (model set per path). */
export function chatBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [
      { role: 'system', content: 'You are a concise assistant for an online bookshop.' },
      {
        role: 'user',
        content:
          'Please summarise our returns policy in two sentences for a customer email: items can be returned within 30 days in original condition, refunds go to the original payment method within five working days, and shipping costs are refunded only for faulty items.',
      },
    ],
    max_tokens: 64,
    temperature: 0.2,
    ...(stream ? { stream: true } : {}),
  });
}
