// A cost-quality rule that learns (weak and strong backend, a judge), as
// manifests and as the prepared table a proxy would hold: the shadow-judging
// tests' world, compiled by the real compiler.
import {
  modelBackend,
  modelRoute,
  type ModelBackend,
  type ModelRoute,
} from '../../../api/v1alpha1/index.js';
import { compileRoutingTable } from '../../../routing/compile.js';
import { prepareTable, type PreparedTable } from '../../../routing/prepared-table.js';
import { ruleKey } from '../../../routing/table.js';
import type { LearningTicket, LearningTier } from '../ticket.js';
import { LEARNING_FEATURE_COUNT } from '../../../learning/wire.js';

export const ROUTE_ID = 'default/assistant';
export const RULE = 'learn';
export const RULE_KEY = ruleKey(ROUTE_ID, RULE);
/** USD per million tokens: the weak backend is cheap, the strong one and the judge are not. */
export const PRICES = {
  weak: { inputPerMillion: 1, outputPerMillion: 2 },
  strong: { inputPerMillion: 10, outputPerMillion: 30 },
  judge: { inputPerMillion: 5, outputPerMillion: 15 },
} as const;

export interface LearningWorld {
  routes: ModelRoute[];
  backends: ModelBackend[];
  table: PreparedTable;
}

/** Endpoints: base URLs the backends' provider (openai-compatible) is reached at (…/v1). */
export function learningWorld(
  endpoints: { weak: string; strong: string; judge: string },
  learning: { sampleRate?: number; maxShadowCostPerDay?: number; threshold?: number } = {},
): LearningWorld {
  const backend = (name: 'weak' | 'strong' | 'judge', quality: number) =>
    modelBackend.parse({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackend',
      metadata: { name, namespace: 'default' },
      spec: {
        provider: 'openai-compatible',
        endpoint: endpoints[name],
        model: `${name}-model`,
        quality,
        pricing: PRICES[name],
      },
    });
  const backends = [backend('weak', 0.4), backend('strong', 0.9), backend('judge', 0.95)];
  const routes = [
    modelRoute.parse({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'assistant', namespace: 'default' },
      spec: {
        model: 'assistant',
        rules: [
          {
            name: RULE,
            strategy: 'cost-quality',
            costQuality: {
              threshold: learning.threshold ?? 0.5,
              learning: {
                sampleRate: learning.sampleRate ?? 1,
                judgeRef: { name: 'judge' },
                maxShadowCostPerDay: learning.maxShadowCostPerDay ?? 10,
              },
            },
            backendRefs: [{ name: 'weak' }, { name: 'strong' }],
          },
        ],
      },
    }),
  ];
  const table = prepareTable(compileRoutingTable(routes, backends));
  return { routes, backends, table };
}

let nextRequest = 0;

/** A ticket as ProxyLearning makes it for a sampled request of the rule. */
export function sampledTicket(
  table: PreparedTable,
  tier: LearningTier,
  body: Record<string, unknown>,
  options: { tenantId?: string; modelVersion?: number } = {},
): LearningTicket & { shadow: NonNullable<LearningTicket['shadow']> } {
  const learning = table.routeById.get(ROUTE_ID)?.rules[0]?.source.learning;
  if (!learning) throw new Error('the fixture route lost its learning settings');
  const features = new Float64Array(LEARNING_FEATURE_COUNT);
  features[0] = ++nextRequest;
  return {
    requestId: `req-${nextRequest}`,
    ruleKey: RULE_KEY,
    routeId: ROUTE_ID,
    ruleName: RULE,
    tier,
    modelVersion: options.modelVersion ?? 0,
    features,
    tenantId: options.tenantId ?? 'default/default',
    learning,
    shadow: { body, capture: { answer: '', truncated: false } },
  };
}
