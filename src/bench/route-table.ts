// The routing table the benchmarked proxy serves: the tiered-cost sample's shape, pointed at the simulator.
import {
  modelBackend,
  modelRoute,
  type ModelBackend,
  type ModelBackendInput,
  type ModelRoute,
} from '../api/v1alpha1/index.js';
import { extractPrompt } from '../proxy/prompt/extract.js';
import type { OpenAIRequestBody } from '../providers/types.js';
import { compileRoutingTable } from '../routing/compile.js';
import type { DifficultyScorer } from '../routing/difficulty/types.js';
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
  "one ModelRoute (3 rules: tenant match, header regex, cost-quality by difficulty; retries, timeouts, $0.25 budget) over 2 openai backends with pricing, context window, rpm/concurrency limits and a secretRef; the request matches the 3rd rule, whose threshold is set above the prompt's score by the proxy's own difficulty model, so every request is scored and routed to the cheap backend with its model name rewritten";

/**
 * The highest prompt score that still leaves room for a threshold above it.
 * A model scoring the bench prompt above this says the prompt is hard; the
 * bench then refuses to run rather than measure a route to the strong tier.
 */
export const MAX_PROMPT_DIFFICULTY = 0.98;

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

/** What `--learning` gives the by-difficulty rule: shadow sampling judged by the large backend, feedback kept. */
export const BENCH_LEARNING = { sampleRate: 0.05, judgeRef: { name: 'large' } } as const;

export function benchRoute(threshold: number, learning = false): ModelRoute {
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
          costQuality: { threshold, ...(learning ? { learning: BENCH_LEARNING } : {}) },
          backendRefs: [{ name: 'small' }, { name: 'large' }],
        },
      ],
      retries: { attempts: 2, backoff: '200ms', maxBackoff: '2s' },
      timeouts: { firstToken: '30s', total: '120s' },
      budget: { maxCostPerRequest: 0.25 },
    },
  });
}

export function benchTable(simUrl: string, threshold: number, learning = false): RoutingTable {
  return compileRoutingTable([benchRoute(threshold, learning)], benchBackends(simUrl));
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

/** The text the proxy scores for the bench request (what its handler extracts from the body). */
export function benchPromptText(): string {
  const body = JSON.parse(chatBody(BENCH_MODEL, false)) as OpenAIRequestBody;
  return extractPrompt('chat', body).text;
}

export interface DifficultyPlan {
  /** The bench prompt's score, as the proxy computes it (same prompt extraction, same scorer). */
  promptDifficulty: number;
  /** The by-difficulty rule's threshold: above the prompt's score, so the cheap tier leads. */
  threshold: number;
}

/**
 * Places the by-difficulty threshold above what `score` gives the bench
 * prompt (halfway to 1, rounded up to 3 decimals), so which backend the
 * proxy picks is decided here and not by whichever model ships: a retrained
 * model once scored the prompt 0.634 against a fixed 0.6 and the bench
 * measured a route it did not describe. The proxy still scores every request.
 */
export function difficultyPlan(score: DifficultyScorer): DifficultyPlan {
  const promptDifficulty = score(benchPromptText());
  if (!Number.isFinite(promptDifficulty) || promptDifficulty < 0 || promptDifficulty > 1)
    throw new Error(
      `the difficulty model scored the bench prompt ${promptDifficulty}, outside 0..1: the model file is broken`,
    );
  if (promptDifficulty > MAX_PROMPT_DIFFICULTY)
    throw new Error(
      `the difficulty model scores the bench prompt ${promptDifficulty.toFixed(3)}, above ${MAX_PROMPT_DIFFICULTY}: no threshold leaves it on the cheap backend; change the prompt in src/bench/route-table.ts to an easier one`,
    );
  const threshold = Math.ceil((promptDifficulty + (1 - promptDifficulty) / 2) * 1000) / 1000;
  return { promptDifficulty, threshold: Math.min(1, threshold) };
}
