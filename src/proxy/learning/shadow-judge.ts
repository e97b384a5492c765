// Shadow judging (issue 17): for a sampled request of a learning rule, once
// its client has the answer, ask the other tier the same question and a
// judge which answer is better (both orders), and hand the resulting label
// to the sink (the proxy's label outbox). Everything here runs after the
// client's response and beside the request path: nothing waits for it,
// nothing it does can fail a request, and its memory and spend are bounded
// (a queue of fixed size, a few calls at once, a per-rule budget per UTC day).
import {
  judgeRequestBody,
  pairwiseGain,
  parseJudgeVerdict,
} from '../../learning/judge-protocol.js';
import type { PreparedTable } from '../../routing/prepared-table.js';
import { tierLeaders } from '../../routing/strategies/cost-quality.js';
import type { CompiledBackend } from '../../routing/table.js';
import type { Logger } from '../../telemetry/logger.js';
import { extractPrompt } from '../prompt/extract.js';
import type { LearningTicket } from './ticket.js';
import type { LabelSink } from './shadow-judging.js';
import type { ProxyRuntime } from '../runtime.js';
import {
  ShadowCallError,
  shadowSender,
  type ShadowAnswer,
  type ShadowSend,
} from './shadow-send.js';

/** Where labels and counters go: the LabelOutbox. `push` counts the label itself (`labels`). */
export type ShadowSink = LabelSink;

export interface ShadowJudgeDeps {
  sink: ShadowSink;
  /** shadowSender(runtime) in the proxy; a fake in unit tests. */
  send: ShadowSend;
  now: () => number;
  /** Unused for now (the two judge calls go out together); kept so callers can pass the runtime's. */
  rng?: () => number;
  logger: Logger;
  /**
   * Whether a backend may take a shadow or judge call now. The proxy asks its
   * live state as for a low-priority request (an open circuit or a backend
   * at its low-priority ceiling says no): shadow traffic yields to clients'.
   * A sample that finds either backend unavailable is dropped (shadowDropped).
   */
  available?: (backendId: string) => boolean;
  /** Samples waiting for a free slot (default 32); more are dropped and counted. */
  maxQueue?: number;
  /** Samples judged at once (default 2): each is one shadow call then two judge calls. */
  maxConcurrent?: number;
}

/** Why a sample ended without a label (the log's `reason`; all counted as judgeFailures). */
export type ShadowFailure =
  | 'not-judgeable' // the served answer was cut, not text, or the response broke
  | 'rule-gone' // the rule or its backends left the table
  | 'no-other-tier' // the other tier's leader is the backend that served (one backend, or a failover)
  | 'shadow-call'
  | 'judge-call'
  | 'unreadable-verdict';

const DAY_MS = 86_400_000;
/** The question a judge sees is cut here (the answers are capped by forward and the shadow call). */
const MAX_QUESTION_CHARS = 32 * 1024;
/** Failure warnings per rule and reason at most this often; the counters have every one. */
const WARN_EVERY_MS = 10_000;

interface Job {
  ticket: LearningTicket & { shadow: NonNullable<LearningTicket['shadow']> };
  table: PreparedTable;
  /** Lets go of the submitted ticket's texts (the caller keeps the ticket for feedback). */
  release(): void;
}

/**
 * The proxy's shadow judge, for startProxy's `shadowJudge` option
 * (`shadowJudge: proxyShadowJudge`): calls go through the runtime's upstream
 * pools, adapters and credentials; its clock and logger.
 */
export function proxyShadowJudge(
  sink: ShadowSink,
  runtime: Pick<
    ProxyRuntime,
    'pools' | 'targets' | 'upstreamAuth' | 'live' | 'now' | 'rng' | 'logger'
  >,
  bounds: { maxQueue?: number; maxConcurrent?: number } = {},
): ShadowJudge {
  return new ShadowJudge({
    sink,
    send: shadowSender(runtime),
    now: runtime.now,
    rng: runtime.rng,
    logger: runtime.logger.child({ component: 'shadow-judge' }),
    available: (backendId) => runtime.live.available(backendId, 'low'),
    ...bounds,
  });
}

type JobResult =
  | { gain: -1 | 0 | 1 }
  | { failure: ShadowFailure; error?: ShadowCallError }
  | 'over-budget'
  | 'busy';

export class ShadowJudge {
  private readonly maxQueue: number;
  private readonly maxConcurrent: number;
  private readonly queue: Job[] = [];
  private active = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly controllers = new Set<AbortController>();
  /** Spend per rule key on one UTC day (the day's number since the epoch). */
  private readonly spend = new Map<string, { day: number; usd: number }>();
  private readonly lastWarned = new Map<string, number>();
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly deps: ShadowJudgeDeps) {
    this.maxQueue = deps.maxQueue ?? 32;
    this.maxConcurrent = deps.maxConcurrent ?? 2;
  }

  /**
   * Whether a request that sampleRate picked may be shadow-judged now: the
   * rule has a judge, its day's budget is not spent, and there is room.
   * Counts overBudget or shadowDropped when not. The budget counts what
   * calls actually cost, so it can be overshot by the samples in flight when
   * it runs out (at most maxConcurrent + maxQueue samples' worth).
   */
  wants(ticket: LearningTicket, nowMs: number): boolean {
    const { learning, ruleKey } = ticket;
    if (this.closed || learning.judgeBackendId === undefined || learning.sampleRate <= 0)
      return false;
    if (this.spentOn(ruleKey, nowMs) >= learning.maxShadowCostPerDayUsd) {
      this.deps.sink.count(ruleKey, 'overBudget', 1);
      return false;
    }
    if (this.queue.length >= this.maxQueue) {
      this.deps.sink.count(ruleKey, 'shadowDropped', 1);
      return false;
    }
    return true;
  }

  /**
   * Queues a sampled ticket once its client has a complete 200 response
   * (forward filled its capture). Returns at once; counts `shadowDropped`
   * when the queue is full or the judge is closed. (`sampled` is the
   * caller's: ProxyLearning counts every request sampleRate picks, before
   * wants().) Each queued sample ends as a label or a counted judgeFailure,
   * overBudget or shadowDropped. Once judged or dropped, the ticket's
   * `shadow` (the request body and the answer) is set to undefined: a ticket
   * kept for feedback does not hold the texts for its whole window. Memory
   * is bounded by maxQueue + maxConcurrent samples' bodies.
   */
  submit(ticket: LearningTicket, table: PreparedTable): void {
    const { shadow } = ticket;
    if (!shadow) return;
    const release = (): void => {
      ticket.shadow = undefined;
    };
    if (this.closed || this.queue.length >= this.maxQueue) {
      this.deps.sink.count(ticket.ruleKey, 'shadowDropped', 1);
      release();
      return;
    }
    this.queue.push({ ticket: { ...ticket, shadow }, table, release });
    this.pump();
  }

  /** Samples waiting and being judged (for stats and tests). */
  get pending(): number {
    return this.queue.length + this.active;
  }

  /** Resolves once nothing is queued or being judged. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking samples; queued ones are dropped (counted). Samples being
   * judged get `graceMs` to finish (default 0), then their calls are aborted.
   */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      this.deps.sink.count(job.ticket.ruleKey, 'shadowDropped', 1);
      job.release();
    }
    if (graceMs > 0 && this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.running]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    for (const controller of this.controllers) controller.abort();
    await Promise.allSettled([...this.running]);
  }

  private pump(): void {
    while (this.active < this.maxConcurrent && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.active++;
      const run = this.run(job).finally(() => {
        this.active--;
        this.running.delete(run);
        this.pump();
        if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
      this.running.add(run);
    }
  }

  private async run(job: Job): Promise<void> {
    const controller = new AbortController();
    this.controllers.add(controller);
    const { ticket } = job;
    const started = this.deps.now();
    try {
      const result = await this.judge(job, controller.signal);
      if (result === 'over-budget') {
        this.deps.sink.count(ticket.ruleKey, 'overBudget', 1);
      } else if (result === 'busy') {
        this.deps.sink.count(ticket.ruleKey, 'shadowDropped', 1);
      } else if ('gain' in result) {
        this.deps.sink.push(ticket.ruleKey, ticket.modelVersion, ticket.features, {
          kind: 'pairwise',
          gain: result.gain,
        });
        this.deps.logger.debug('shadow judged', {
          rule: ticket.ruleKey,
          requestId: ticket.requestId,
          tier: ticket.tier,
          modelVersion: ticket.modelVersion,
          gain: result.gain,
          ms: this.deps.now() - started,
        });
      } else {
        this.deps.sink.count(ticket.ruleKey, 'judgeFailures', 1);
        this.warn(ticket, result.failure, result.error);
      }
    } catch (err) {
      // A bug here must not become an unhandled rejection in the proxy.
      this.deps.sink.count(ticket.ruleKey, 'judgeFailures', 1);
      this.deps.logger.error('shadow judging broke', { rule: ticket.ruleKey, error: err });
    } finally {
      this.controllers.delete(controller);
      job.release();
    }
  }

  private async judge(job: Job, signal: AbortSignal): Promise<JobResult> {
    const { ticket, table } = job;
    const { capture, body } = ticket.shadow;
    const { learning, ruleKey } = ticket;
    if (capture.truncated || capture.servedBackendId === undefined || capture.answer === '')
      return { failure: 'not-judgeable' };
    if (this.spentOn(ruleKey, this.deps.now()) >= learning.maxShadowCostPerDayUsd)
      return 'over-budget';

    const rule = table.routeById
      .get(ticket.routeId)
      ?.rules.find((r) => r.source.name === ticket.ruleName);
    const leaders = rule && tierLeaders(rule.source.backends, table.backendById);
    const judge =
      learning.judgeBackendId === undefined
        ? undefined
        : table.backendById.get(learning.judgeBackendId);
    if (!leaders || !judge) return { failure: 'rule-gone' };
    const other = ticket.tier === 'cheap' ? leaders.strongest : leaders.cheapest;
    if (other.id === capture.servedBackendId) return { failure: 'no-other-tier' };
    const { available } = this.deps;
    if (available && !(available(other.id) && available(judge.id))) return 'busy';

    this.deps.sink.count(ruleKey, 'shadowCalls', 1);
    const shadow = await this.call(ruleKey, other, body, signal);
    if (shadow instanceof ShadowCallError) return { failure: 'shadow-call', error: shadow };

    const [strong, weak] =
      ticket.tier === 'strong' ? [capture.answer, shadow.text] : [shadow.text, capture.answer];
    const question = extractPrompt('chat', body).text.slice(0, MAX_QUESTION_CHARS);
    this.deps.sink.count(ruleKey, 'judgeCalls', 2);
    const [strongFirst, weakFirst] = await Promise.all([
      this.call(ruleKey, judge, judgeRequestBody(question, strong, weak), signal),
      this.call(ruleKey, judge, judgeRequestBody(question, weak, strong), signal),
    ]);
    if (strongFirst instanceof ShadowCallError)
      return { failure: 'judge-call', error: strongFirst };
    if (weakFirst instanceof ShadowCallError) return { failure: 'judge-call', error: weakFirst };
    const first = parseJudgeVerdict(strongFirst.text);
    const second = parseJudgeVerdict(weakFirst.text);
    if (first === undefined || second === undefined) return { failure: 'unreadable-verdict' };
    return { gain: pairwiseGain(first, second) };
  }

  /** One call; its cost (also of a failed one that had any) goes to the rule's day. Never rejects. */
  private async call(
    ruleKey: string,
    backend: CompiledBackend,
    body: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<ShadowAnswer | ShadowCallError> {
    try {
      const answer = await this.deps.send(backend, body, signal);
      this.spent(ruleKey, answer.costUsd);
      return answer;
    } catch (err) {
      const error =
        err instanceof ShadowCallError
          ? err
          : new ShadowCallError('network', backend.id, `${backend.id}: ${(err as Error).message}`);
      this.spent(ruleKey, error.costUsd);
      return error;
    }
  }

  private spentOn(ruleKey: string, nowMs: number): number {
    const entry = this.spend.get(ruleKey);
    return entry && entry.day === Math.floor(nowMs / DAY_MS) ? entry.usd : 0;
  }

  private spent(ruleKey: string, usd: number): void {
    if (!(usd > 0)) return;
    const day = Math.floor(this.deps.now() / DAY_MS);
    const entry = this.spend.get(ruleKey);
    if (entry && entry.day === day) entry.usd += usd;
    else this.spend.set(ruleKey, { day, usd });
    this.deps.sink.count(ruleKey, 'costUsd', usd);
  }

  /**
   * A failed sample, logged at most every WARN_EVERY_MS per rule and reason.
   * Never the prompt, the answers or an upstream error's text (which may
   * quote them): the call's kind, HTTP status and backend are enough.
   */
  private warn(ticket: LearningTicket, reason: ShadowFailure, error?: ShadowCallError): void {
    const key = `${ticket.ruleKey}|${reason}`;
    const now = this.deps.now();
    const last = this.lastWarned.get(key);
    if (last !== undefined && now - last < WARN_EVERY_MS) return;
    this.lastWarned.set(key, now);
    this.deps.logger.warn('shadow judging failed; the sample has no label', {
      rule: ticket.ruleKey,
      requestId: ticket.requestId,
      reason,
      ...(error
        ? {
            kind: error.kind,
            backend: error.backendId,
            ...(error.status ? { status: error.status } : {}),
          }
        : {}),
    });
  }
}
