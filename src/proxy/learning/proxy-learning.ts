// A proxy's part in the learning loop (issue 17): scores learning rules with
// their pushed model (or the proxy's own) on features extracted once per
// request, makes a LearningTicket for each such request, keeps it for
// feedback, hands sampled ones to the shadow judge once the client has its
// answer, and keeps the labels for the controller. Nothing here may fail a
// request: every failure is counted and logged.
import type { ProxyLearningStats } from '../../learning/wire.js';
import {
  FeatureBufferV2,
  extractFeaturesV2,
} from '../../routing/difficulty/learned/features-v2.js';
import type { PreparedTable } from '../../routing/prepared-table.js';
import { ruleKey, type CompiledRule, type RoutingTable } from '../../routing/table.js';
import type { Logger } from '../../telemetry/logger.js';
import type { ProxyMetrics } from '../../telemetry/proxy-metrics.js';
import type { OpenAIRequestBody } from '../../providers/types.js';
import type { DifficultyRouter } from '../difficulty-router.js';
import { LabelOutbox, type LabelsCursor } from './label-outbox.js';
import { RecentRequests, type FeedbackClaim } from './recent-requests.js';
import { RuleModels } from './rule-models.js';
import type { ShadowJudging } from './shadow-judging.js';
import type { LearningTicket, LearningTier } from './ticket.js';

export type LearningMetrics = Pick<
  ProxyMetrics,
  'feedback' | 'learningLabel' | 'learningLabelsDropped' | 'learnedModelRefused'
>;

export interface ProxyLearningOptions {
  now: () => number;
  rng: () => number;
  logger: Logger;
  metrics: LearningMetrics;
  /** The proxy's own model: version 0, the prior. */
  prior: DifficultyRouter;
  epoch: string;
  recentCapacity?: number;
  labelCapacity?: number;
}

/**
 * One request's learned scoring: its features, extracted on first need and
 * shared by the score and the ticket; the last rule's score memoised (the
 * cost-quality order asks once per priority tier).
 */
export class RequestScoring {
  private buffer: FeatureBufferV2 | undefined;
  private lastRule: CompiledRule | undefined;
  private lastScore = 0;
  private lastVersion = 0;

  constructor(
    private readonly learning: ProxyLearning,
    private readonly prompt: string,
  ) {}

  features(): Float64Array {
    if (this.buffer === undefined) {
      this.buffer = new FeatureBufferV2();
      extractFeaturesV2(this.prompt, this.buffer);
    }
    return this.buffer.dense;
  }

  /** The difficulty of the prompt for a learning rule. */
  difficulty(rule: CompiledRule): number {
    if (rule !== this.lastRule) {
      const own = this.learning.models.forRule(rule);
      const prior = this.learning.prior.featureScorer;
      this.lastScore = own
        ? own.scoreFeatures(this.features())
        : prior
          ? prior(this.features())
          : this.learning.prior.score(this.prompt);
      this.lastVersion = own?.version ?? 0;
      this.lastRule = rule;
    }
    return this.lastScore;
  }

  /** The version of the model that scored `rule` (0: the prior). */
  versionFor(rule: CompiledRule): number {
    if (rule !== this.lastRule) this.difficulty(rule);
    return this.lastVersion;
  }
}

export interface TicketInput {
  requestId: string;
  routeId: string;
  rule: CompiledRule;
  tier: LearningTier;
  tenantId: string;
  body: OpenAIRequestBody;
  scoring: RequestScoring;
}

export class ProxyLearning {
  readonly outbox: LabelOutbox;
  readonly recent: RecentRequests;
  readonly models: RuleModels;
  readonly prior: DifficultyRouter;
  private shadow: ShadowJudging | undefined;

  constructor(private readonly options: ProxyLearningOptions) {
    this.prior = options.prior;
    this.outbox = new LabelOutbox({
      now: options.now,
      epoch: options.epoch,
      capacity: options.labelCapacity,
      onLabel: (rule, kind) => options.metrics.learningLabel(rule, kind),
      onDropped: () => options.metrics.learningLabelsDropped(),
    });
    this.recent = new RecentRequests(options.recentCapacity);
    this.models = new RuleModels({
      onRefused: (rule, version, error) => {
        options.metrics.learnedModelRefused(rule);
        options.logger.error(
          "learned model refused; the rule scores with the proxy's own model until a good one is pushed",
          { rule, version, error },
        );
      },
    });
  }

  /** Plugs in the shadow judge (startProxy, once the runtime exists). */
  useShadowJudge(judge: ShadowJudging): void {
    this.shadow = judge;
  }

  /** Follows a new table; returns the rules whose model changed (their live calibration restarts). */
  configure(table: RoutingTable): Set<string> {
    return this.models.configure(table);
  }

  scoring(prompt: string): RequestScoring {
    return new RequestScoring(this, prompt);
  }

  /** After a learning rule's decision: the ticket, kept for feedback and maybe sampled for judging. */
  ticket(input: TicketInput): LearningTicket | undefined {
    const { rule } = input;
    const learning = rule.learning;
    if (learning === undefined) return undefined;
    const key = ruleKey(input.routeId, rule.name);
    const now = this.options.now();
    const ticket: LearningTicket = {
      requestId: input.requestId,
      ruleKey: key,
      routeId: input.routeId,
      ruleName: rule.name,
      tier: input.tier,
      modelVersion: input.scoring.versionFor(rule),
      features: input.scoring.features(),
      tenantId: input.tenantId,
      learning,
    };
    if (this.shadow && learning.sampleRate > 0 && this.options.rng() < learning.sampleRate) {
      this.outbox.count(key, 'sampled', 1);
      if (this.wants(ticket, now))
        ticket.shadow = { body: input.body, capture: { answer: '', truncated: false } };
    }
    this.recent.add(ticket, now + learning.feedbackWindowMs);
    return ticket;
  }

  private wants(ticket: LearningTicket, now: number): boolean {
    try {
      return this.shadow?.wants(ticket, now) ?? false;
    } catch (error) {
      this.options.logger.error('shadow judge failed to sample; not judging', { error });
      return false;
    }
  }

  /** The client's response ended (`status`): feedback stays possible only for a 200. */
  finished(ticket: LearningTicket, status: number, prepared: PreparedTable): void {
    if (status !== 200) {
      this.recent.forget(ticket.requestId);
      return;
    }
    if (ticket.shadow === undefined || this.shadow === undefined) return;
    try {
      this.shadow.submit(ticket, prepared);
    } catch (error) {
      this.outbox.count(ticket.ruleKey, 'judgeFailures', 1);
      this.options.logger.error('shadow judge refused a sample', { rule: ticket.ruleKey, error });
    }
  }

  /** One caller's score in [0, 1] for a request it made; a label when accepted. */
  feedback(requestId: string, tenantId: string, score: number): FeedbackClaim {
    const claim = this.recent.claim(requestId, tenantId, this.options.now());
    this.options.metrics.feedback(claim.ok ? 'accepted' : claim.reason);
    if (!claim.ok) {
      if (claim.ruleKey !== undefined) this.outbox.count(claim.ruleKey, 'feedbackRefused', 1);
      return claim;
    }
    this.outbox.count(claim.ruleKey, 'feedbackAccepted', 1);
    this.outbox.push(claim.ruleKey, claim.modelVersion, claim.features, {
      kind: 'feedback',
      tier: claim.tier,
      score,
    });
    return claim;
  }

  stats(cursor?: LabelsCursor): ProxyLearningStats {
    return this.outbox.stats(cursor);
  }

  async close(): Promise<void> {
    await this.shadow?.close();
  }
}
