// ModelRoute: the model name clients call, and the policy that picks a backend.
import { z } from 'zod';
import { RE2_SYNTAX_URL, compileHeaderRegex } from './header-regex.js';
import { capability } from './modelbackend.js';
import { costStatus, loadCondition, spendBudget, spendStatus, timeWindow } from './quota.js';
import {
  API_VERSION,
  conditions,
  count,
  boundedDuration,
  connectTimeout,
  firstTokenTimeout,
  totalTimeout,
  healthState,
  labelName,
  labelSelector,
  listMap,
  objectMeta,
  objectName,
  withCrossFieldRules,
} from './common.js';

export const MAX_RULES = 16;
export const MAX_REFS_PER_RULE = 16;
export const MAX_FALLBACK_REFS = 16;
/**
 * The most distinct backends a valid route can reference (every rule's refs
 * and the fallback's, all different): status.backends must hold them all, or
 * such a route could never get a status (issue 11 class 9: it was 64).
 */
export const MAX_REFERENCED_BACKENDS = MAX_RULES * MAX_REFS_PER_RULE + MAX_FALLBACK_REFS;

export const STRATEGIES = [
  'weighted',
  'priority',
  'least-latency',
  'least-cost',
  'least-busy',
  'cost-quality',
] as const;
export const strategy = z.enum(STRATEGIES);
export type Strategy = z.infer<typeof strategy>;

/** A name clients put in the request's `model` field. */
export const clientModelName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/, {
    message: 'must start with a letter or digit and use only letters, digits and . _ : / @ + -',
  });

const headerMatch = withCrossFieldRules(
  z
    .strictObject({
      name: z
        .string()
        .min(1)
        .max(256)
        .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: 'must be a valid HTTP header name' })
        .describe('Header name (case-insensitive).'),
      type: z
        .enum(['Exact', 'Prefix', 'RegularExpression', 'Present'])
        .default('Exact')
        .describe(
          'How value is compared: Exact, Prefix, RegularExpression (must match the whole value; RE2 syntax) or Present.',
        ),
      value: z
        .string()
        .max(512)
        .optional()
        .describe(
          `Value to compare; not used with Present. For RegularExpression, an RE2 pattern (${RE2_SYNTAX_URL}) that must match the whole value, such as team[[:digit:]]+ or (?i)beta-.*; RE2 has no lookaround or backreferences, and matches in time linear in the header's length.`,
        ),
    })
    .describe('A condition on one request header.'),
  [
    {
      rule: "(has(self.type) && self.type == 'Present') || has(self.value)",
      message: 'value is required unless type is Present',
      fieldPath: '.value',
      holds: (h) => h.type === 'Present' || h.value !== undefined,
    },
    {
      // An invalid pattern makes matches() fail, and the API server rejects the object.
      rule: "!has(self.type) || self.type != 'RegularExpression' || !has(self.value) || ''.matches(self.value) || !''.matches(self.value)",
      message: `value must be a valid RE2 regular expression (no lookaround or backreferences; see ${RE2_SYNTAX_URL})`,
      fieldPath: '.value',
      holds: (h) =>
        h.type !== 'RegularExpression' || h.value === undefined || compileHeaderRegex(h.value).ok,
    },
  ],
);

const intRange = withCrossFieldRules(
  z
    .strictObject({
      min: z.int().min(0).optional().describe('Smallest value that matches (inclusive).'),
      max: z.int().min(0).optional().describe('Largest value that matches (inclusive).'),
    })
    .describe('An inclusive integer range; either end may be left open.'),
  [
    {
      rule: '!has(self.min) || !has(self.max) || self.min <= self.max',
      message: 'min must not exceed max',
      fieldPath: '.min',
      holds: (r) => r.min === undefined || r.max === undefined || r.min <= r.max,
    },
  ],
);

const scoreRange = withCrossFieldRules(
  z
    .strictObject({
      min: z.number().min(0).max(1).optional().describe('Smallest score that matches (inclusive).'),
      max: z.number().min(0).max(1).optional().describe('Largest score that matches (inclusive).'),
    })
    .describe('An inclusive range of scores between 0 and 1.'),
  [
    {
      rule: '!has(self.min) || !has(self.max) || self.min <= self.max',
      message: 'min must not exceed max',
      fieldPath: '.min',
      holds: (r) => r.min === undefined || r.max === undefined || r.min <= r.max,
    },
  ],
);

const stringList = (what: string) =>
  z
    .array(z.string().min(1).max(256))
    .max(64)
    .optional()
    .meta({ 'x-kubernetes-list-type': 'set' })
    .describe(what);

export const routeMatch = z
  .strictObject({
    headers: z
      .array(headerMatch)
      .max(8)
      .optional()
      .describe('Header conditions, all of which must hold.'),
    tenants: stringList(
      'Tenants (ModelTenant names) this match accepts; any of them. The tenant is the verified caller’s, never a header the caller was not trusted to set.',
    ),
    priorities: stringList(
      'Priority classes (high, normal, low: the tenant’s) this match accepts; any of them.',
    ),
    tasks: stringList(
      'Task kinds this match accepts (the tenant’s task, or x-modelroute-task when the tenant trusts it); any of them.',
    ),
    promptTokens: intRange.optional().describe('Range of prompt sizes, in tokens.'),
    difficulty: scoreRange
      .optional()
      .describe('Range of prompt difficulty scores (0 easy .. 1 hard).'),
    capabilities: z
      .array(capability)
      .max(16)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('Matches requests that need all of these capabilities (e.g. vision for images).'),
    compliance: z
      .array(labelName)
      .max(32)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe(
        'Matches requests that require all of these compliance tags (x-modelroute-compliance header).',
      ),
    load: loadCondition
      .optional()
      .describe('Matches while a backend nears its quota, concurrency limit or latency objective.'),
    timeWindows: z
      .array(timeWindow)
      .max(8)
      .optional()
      .describe('Matches during any of these times (planned peaks); the proxy clock decides.'),
    budgetExceeded: z
      .boolean()
      .optional()
      .describe(
        'true: matches only requests whose tenant or route budget is exceeded with onExceeded: downgrade (the cheaper rule they are downgraded to); false: only requests within budget.',
      ),
  })
  .describe(
    'Conditions on a request; all fields present must hold. An empty match matches every request.',
  );
export type RouteMatch = z.infer<typeof routeMatch>;

export const backendRef = z
  .strictObject({
    name: objectName.describe('Name of a ModelBackend.'),
    namespace: objectName
      .optional()
      .describe(
        "Namespace of the ModelBackend; default the route's. Another namespace must allow this one with a ModelBackendGrant.",
      ),
    weight: z
      .int()
      .min(0)
      .max(1_000_000)
      .default(1)
      .describe('Relative share of traffic; 0 drains the backend.'),
    priority: z
      .int()
      .min(0)
      .max(100)
      .default(0)
      .describe(
        'Tier: lower numbers are tried first; higher tiers only when lower ones have no usable backend.',
      ),
  })
  .describe('A ModelBackend this rule may send requests to.');
export type BackendRef = z.infer<typeof backendRef>;

/** Learning from the rule's own outcomes (issue 17): feedback, shadow judging, per-rule retraining. */
export const costQualityLearning = z
  .strictObject({
    sampleRate: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe(
        "Share of this rule's requests that are shadow-judged: the proxy also sends the prompt to the other tier and asks judgeRef to compare the two answers (both orders), off the client's path. 0: feedback only.",
      ),
    judgeRef: z
      .strictObject({
        name: objectName.describe('Name of the ModelBackend that judges.'),
        namespace: objectName
          .optional()
          .describe(
            "Its namespace; default the route's (another namespace needs a ModelBackendGrant).",
          ),
      })
      .optional()
      .describe('The backend that compares the two answers; required when sampleRate is above 0.'),
    maxShadowCostPerDay: z
      .number()
      .min(0)
      .default(1)
      .describe(
        'USD a day each proxy may spend on shadow calls and judging for this rule (UTC days); beyond it, sampling stops until the next day and the skipped samples are counted.',
      ),
    feedbackWindow: boundedDuration({ min: '1s', max: '24h' })
      .default('15m')
      .describe(
        'How long after a response POST /v1/feedback accepts a score for it (each proxy also keeps at most a bounded number of recent requests).',
      ),
    minLabels: z
      .int()
      .min(20)
      .max(100_000)
      .default(200)
      .describe('Labels the controller waits for before it trains a first challenger.'),
    pinnedVersion: z
      .int()
      .min(0)
      .optional()
      .describe(
        'Serve this model version and stop promoting: 0 is the shipped prior, N a version status.learning lists. Remove it to let promotions resume; set it to an earlier version to roll back.',
      ),
  })
  .describe(
    "Learning from this rule's own outcomes: labels from POST /v1/feedback and shadow judging train the rule's own difficulty model in the controller, promoted only when it beats the current one on held-out recent labels. Only feature vectors and labels leave a proxy, never prompt or answer text.",
  );
export type CostQualityLearning = z.infer<typeof costQualityLearning>;

const costQuality = withCrossFieldRules(
  z
    .strictObject({
      threshold: z
        .number()
        .min(0)
        .max(1)
        .optional()
        .describe('Difficulty at or above which requests go to the strongest backend.'),
      strongShare: z
        .number()
        .min(0)
        .max(1)
        .optional()
        .describe(
          "Target share of this rule's requests sent to the strongest backend, held on live traffic: each proxy sets its threshold from the scores it routes and the share it realised, and the controller pushes the fleet's threshold (status.strongShare shows the realised share).",
        ),
      learning: costQualityLearning.optional(),
    })
    .describe(
      "Settings of the cost-quality strategy. Set at most one of threshold or strongShare; with neither, difficulty is compared with each backend's quality.",
    ),
  [
    {
      rule: '!(has(self.threshold) && has(self.strongShare))',
      message: 'set at most one of threshold or strongShare',
      holds: (c) => c.threshold === undefined || c.strongShare === undefined,
    },
    {
      rule: '!has(self.learning) || !has(self.learning.sampleRate) || self.learning.sampleRate == 0.0 || has(self.learning.judgeRef)',
      message:
        'learning.sampleRate above 0 needs learning.judgeRef: name the ModelBackend that compares the two answers, or set sampleRate to 0 to learn from feedback only',
      fieldPath: '.learning.judgeRef',
      holds: (c) =>
        c.learning === undefined ||
        !(typeof c.learning.sampleRate === 'number' && c.learning.sampleRate > 0) ||
        c.learning.judgeRef !== undefined,
    },
  ],
);

export const routeRule = withCrossFieldRules(
  z
    .strictObject({
      name: labelName.describe(
        'Unique name of the rule within the route; appears in headers, metrics and traces.',
      ),
      matches: z
        .array(routeMatch)
        .max(8)
        .optional()
        .describe(
          'The rule applies when any of these matches holds; omitted or empty means every request.',
        ),
      backendRefs: listMap(backendRef, 'name')
        .min(1)
        .max(MAX_REFS_PER_RULE)
        .describe('Candidate backends.'),
      strategy: strategy
        .default('weighted')
        .describe(
          'How a backend is chosen within a priority tier: weighted, priority, least-latency, least-cost, least-busy or cost-quality.',
        ),
      costQuality: costQuality.optional(),
    })
    .describe('Requests matching this rule are served by its backends.'),
  [
    {
      rule: 'self.backendRefs.exists(b, !has(b.weight) || b.weight > 0)',
      message:
        'backendRefs weights must sum to more than 0: give at least one backendRef a weight above 0',
      fieldPath: '.backendRefs',
      // A non-numeric weight is reported on its own field, not here.
      holds: (r) => r.backendRefs.some((b) => typeof b.weight !== 'number' || b.weight > 0),
    },
    {
      rule: "!has(self.costQuality) || (has(self.strategy) && self.strategy == 'cost-quality')",
      message: 'costQuality may only be set when strategy is cost-quality',
      fieldPath: '.costQuality',
      holds: (r) => r.costQuality === undefined || r.strategy === 'cost-quality',
    },
    {
      rule: "!has(self.strategy) || self.strategy != 'cost-quality' || size(self.backendRefs) >= 2",
      message:
        'the cost-quality strategy needs at least two backendRefs (a cheaper and a stronger one)',
      fieldPath: '.backendRefs',
      holds: (r) => r.strategy !== 'cost-quality' || r.backendRefs.length >= 2,
    },
  ],
);
export type RouteRule = z.infer<typeof routeRule>;

export const RETRY_ON = ['connect-failure', 'timeout', 'rate-limited', 'server-error'] as const;

const retries = z
  .strictObject({
    attempts: z
      .int()
      .min(0)
      .max(10)
      .default(2)
      .describe(
        'Extra attempts after the first; each goes to the next candidate backend when there is one.',
      ),
    backoff: boundedDuration({ min: '0s', max: '1m' })
      .default('100ms')
      .describe('Base delay before a retry, 0s to 1m; doubles each time, with jitter.'),
    maxBackoff: boundedDuration({ min: '0s', max: '10m' })
      .default('2s')
      .describe(
        'Upper bound on the delay between attempts, 0s to 10m (Retry-After is honoured up to this).',
      ),
    retryOn: z
      .array(z.enum(RETRY_ON))
      .max(RETRY_ON.length)
      .default([...RETRY_ON])
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe(
        'Failures that are retried: connect-failure, timeout, rate-limited (429), server-error (5xx).',
      ),
  })
  .describe('Retry policy for failed attempts, applied before the first byte reaches the client.');

const fallback = z
  .strictObject({
    backendRefs: listMap(
      z.strictObject({
        name: objectName.describe('Name of a ModelBackend.'),
        namespace: objectName
          .optional()
          .describe(
            "Namespace of the ModelBackend; default the route's. Another namespace must allow this one with a ModelBackendGrant.",
          ),
      }),
      'name',
    )
      .max(MAX_FALLBACK_REFS)
      .optional()
      .describe('Backends tried, in order, when the matched rule has no usable backend left.'),
    model: clientModelName
      .optional()
      .describe(
        "Another route (by its model name) that takes over when this route's own backends are exhausted.",
      ),
  })
  .describe("What to try when the matched rule's backends all fail or are unavailable.");

const routeTimeouts = z
  .strictObject({
    connect: connectTimeout
      .optional()
      .describe("Time to establish a connection, 1ms to 10m; overrides the backend's."),
    firstToken: firstTokenTimeout
      .optional()
      .describe("Time until the first response byte, 1ms to 1h; overrides the backend's."),
    total: totalTimeout
      .optional()
      .describe('Time for the whole request across all attempts, 1ms to 24h.'),
  })
  .describe('Timeouts for requests on this route.');

const budget = z
  .strictObject({
    maxCostPerRequest: z
      .number()
      .min(0)
      .optional()
      .describe(
        'Largest estimated cost in USD a single request may incur; costlier backends are skipped.',
      ),
    ...spendBudget.shape,
  })
  .describe('Spending limits: per request, and per day and month across the fleet.');

export const modelRouteSpec = withCrossFieldRules(
  z
    .strictObject({
      model: clientModelName.describe('The model name clients send, e.g. "chat" or "gpt-4o".'),
      aliases: z
        .array(clientModelName)
        .max(16)
        .optional()
        .meta({ 'x-kubernetes-list-type': 'set' })
        .describe('Other model names that select this route.'),
      proxySelector: labelSelector
        .optional()
        .describe(
          'Which proxy pods serve this route; default: every modelroute proxy in the namespace.',
        ),
      rules: listMap(routeRule, 'name')
        .min(1)
        .max(MAX_RULES)
        .describe('Ordered rules; the first whose matches hold serves the request.'),
      fallback: fallback.optional(),
      retries: retries.optional(),
      timeouts: routeTimeouts.optional(),
      budget: budget.optional(),
    })
    .describe('Desired state of a ModelRoute.'),
  [
    {
      rule: '!has(self.fallback) || !has(self.fallback.model) || (self.fallback.model != self.model && (!has(self.aliases) || !(self.fallback.model in self.aliases)))',
      message: "spec.fallback.model must name another route, not this route's own model or aliases",
      fieldPath: '.fallback.model',
      holds: (s) =>
        s.fallback?.model === undefined ||
        (s.fallback.model !== s.model && !(s.aliases ?? []).includes(s.fallback.model)),
    },
    {
      rule: '!has(self.aliases) || !(self.model in self.aliases)',
      message: 'spec.aliases must not repeat spec.model',
      fieldPath: '.aliases',
      holds: (s) => !(s.aliases ?? []).includes(s.model),
    },
  ],
);
export type ModelRouteSpec = z.infer<typeof modelRouteSpec>;

export const routeBackendStatus = z.strictObject({
  name: objectName.describe('ModelBackend name.'),
  namespace: objectName.optional().describe("ModelBackend namespace, when not the route's."),
  health: healthState.describe('Healthy, Unhealthy or Unknown, as this route sees it.'),
  reason: z.string().max(256).optional().describe('Why, e.g. NotFound, ProbeFailed, CircuitOpen.'),
});

const apgr = z.number().min(-10).max(10);

/** What the controller's learning did for a rule with costQuality.learning (the first such rule). */
export const learningStatus = z
  .strictObject({
    rule: z.string().max(63).describe('The rule that learns.'),
    model: z
      .string()
      .max(128)
      .describe(
        'Summary for kubectl: the version in use and its held-out APGR against the prior, e.g. "v3 0.62/0.55 (812 labels)".',
      ),
    modelVersion: count.describe('Model version the proxies are sent: 0 is the shipped prior.'),
    pinned: z.boolean().describe('Whether spec pins the version (no promotions).'),
    latestVersion: count.describe('Highest version trained and promoted so far.'),
    labels: count.describe('Labels in the training window now.'),
    labelsTotal: count.describe('Labels received since learning began.'),
    promotions: count.describe('Challengers promoted so far.'),
    heldOut: z
      .strictObject({
        labels: count.describe(
          'Recent labels held out from training, that the APGRs below are measured on.',
        ),
        champion: apgr
          .optional()
          .describe(
            'APGR of the model in use on them (absent when the labels show no gain to recover).',
          ),
        prior: apgr.optional().describe('APGR of the shipped prior on them.'),
      })
      .optional()
      .describe('The last evaluation.'),
    lastDecision: z
      .string()
      .max(512)
      .optional()
      .describe('What the last retraining decided and why, with the paired bootstrap interval.'),
    lastTrainedTime: z
      .string()
      .optional()
      .describe('When a challenger was last trained (RFC 3339).'),
    lastPromotedTime: z
      .string()
      .optional()
      .describe('When a challenger was last promoted (RFC 3339).'),
    costUSD: z
      .number()
      .min(0)
      .describe(
        'Cost of learning: shadow calls and judging, summed over the proxies since learning began.',
      ),
    shadowCalls: count.describe('Shadow requests sent to the other tier.'),
    feedback: count.describe('Feedback scores accepted.'),
  })
  .describe(
    "The rule's own difficulty model: version, labels, held-out quality and the cost of learning.",
  );
export type LearningStatus = z.infer<typeof learningStatus>;

export const modelRouteStatus = z
  .strictObject({
    observedGeneration: count.optional().describe('The metadata.generation this status describes.'),
    conditions: conditions.optional(),
    backends: listMap(routeBackendStatus, 'name')
      .max(MAX_REFERENCED_BACKENDS)
      .optional()
      .describe('Health of every backend this route references.'),
    healthyBackends: z
      .string()
      .max(32)
      .optional()
      .describe('Healthy over referenced backends, e.g. "2/3".'),
    programmed: z
      .string()
      .max(32)
      .optional()
      .describe('Proxies that acknowledged the current table over proxies selected, e.g. "3/3".'),
    proxies: z
      .strictObject({
        programmed: count.describe('Proxies running the current table version.'),
        desired: count.describe('Proxies this route is selected onto.'),
      })
      .optional(),
    routeVersion: z
      .string()
      .max(128)
      .optional()
      .describe(
        'Content hash of this route as compiled for the proxies, with the backends it uses; Programmed counts the proxies that run exactly this.',
      ),
    lastFailover: z
      .strictObject({
        time: z.string().describe('When traffic shifted (RFC 3339).'),
        from: z.string().max(253).describe('Backend traffic moved away from.'),
        to: z.string().max(253).optional().describe('Backend traffic moved to, if any.'),
        reason: z.string().max(1024).describe('Why, e.g. the backend became Unhealthy.'),
        recoveredTime: z
          .string()
          .optional()
          .describe('When the failed backend became healthy again (RFC 3339).'),
      })
      .optional()
      .describe('The most recent failover and, once it happened, its recovery.'),
    usage: z
      .strictObject({
        window: boundedDuration({ min: '0s', max: '168h' }).describe('Period the figures cover.'),
        requests: count.describe('Requests served.'),
        costUSD: z.number().min(0).describe('Estimated spend in USD.'),
      })
      .optional()
      .describe('Traffic and cost reported by the proxies.'),
    strongShare: z
      .strictObject({
        target: z
          .number()
          .min(0)
          .max(1)
          .describe("The spec's strongShare (the first cost-quality rule with one)."),
        realized: z
          .number()
          .min(0)
          .max(1)
          .describe(
            "Share of that rule's requests sent to the strongest backend over the window, summed over the proxies.",
          ),
        threshold: z
          .number()
          .min(0)
          .max(1)
          .describe(
            "Difficulty threshold pushed to the proxies: the quantile of the fleet's recent scores that sends the target share to the strongest backend.",
          ),
        decisions: count.describe('Requests the rule decided with that threshold in the window.'),
        window: boundedDuration({ min: '0s', max: '168h' }).describe('Period the figures cover.'),
      })
      .optional()
      .describe('How the strongShare target holds on live traffic.'),
    spend: spendStatus.optional(),
    cost: costStatus.optional(),
    learning: learningStatus.optional(),
  })
  .describe('Observed state of a ModelRoute.');
export type ModelRouteStatus = z.infer<typeof modelRouteStatus>;

export const modelRoute = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ModelRoute'),
  metadata: objectMeta,
  spec: modelRouteSpec,
  status: modelRouteStatus.optional(),
});
export type ModelRoute = z.infer<typeof modelRoute>;
/** A ModelRoute as written by users (defaults not yet applied). */
export type ModelRouteInput = z.input<typeof modelRoute>;
