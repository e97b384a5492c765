// ShadowJudge with a scripted `send`: which calls it makes, the labels and
// counters it reports, its budget, its bounds and its shutdown.
import { readJudgeUserPrompt } from '../../learning/judge-protocol.js';
import type { LearningOutcome, RuleLearningCounters } from '../../learning/wire.js';
import type { CompiledBackend } from '../../routing/table.js';
import { createLogger } from '../../telemetry/logger.js';
import { RULE_KEY, learningWorld, sampledTicket } from './__fixtures__/learning-route.js';
import { ShadowJudge, type ShadowSink } from './shadow-judge.js';
import { ShadowCallError, type ShadowAnswer } from './shadow-send.js';

const DAY = 86_400_000;
const world = learningWorld({
  weak: 'http://weak/v1',
  strong: 'http://strong/v1',
  judge: 'http://judge/v1',
});
const body = { model: 'assistant', messages: [{ role: 'user', content: 'What is 2+2?' }] };

class FakeSink implements ShadowSink {
  labels: { rule: string; version: number; features: number[]; outcome: LearningOutcome }[] = [];
  counters: Partial<Record<keyof RuleLearningCounters, number>> = {};
  push(rule: string, version: number, features: ArrayLike<number>, outcome: LearningOutcome) {
    this.labels.push({ rule, version, features: Array.from(features), outcome });
  }
  count(rule: string, field: keyof RuleLearningCounters, n: number) {
    expect(rule).toBe(RULE_KEY);
    this.counters[field] = (this.counters[field] ?? 0) + n;
  }
}

type Verdict = (answerA: string, answerB: string) => string;
/** The judge prefers the strong backend's answer, wherever it stands. */
const prefersStrong: Verdict = (a, b) =>
  a.startsWith('strong') ? '[[A]]' : b.startsWith('strong') ? '[[B]]' : '[[C]]';

interface Call {
  backend: string;
  body: Record<string, unknown>;
}

function setup(
  options: { verdict?: Verdict; cost?: number; maxQueue?: number; maxConcurrent?: number } = {},
) {
  const sink = new FakeSink();
  const calls: Call[] = [];
  let now = Date.UTC(2026, 11, 4, 12);
  const lines: string[] = [];
  const send = (backend: CompiledBackend, sent: Record<string, unknown>): Promise<ShadowAnswer> => {
    calls.push({ backend: backend.id, body: sent });
    const costUsd = options.cost ?? 0.001;
    if (backend.id === 'default/judge') {
      const messages = sent.messages as { content: string }[];
      const read = readJudgeUserPrompt(messages[1]?.content ?? '');
      const text = (options.verdict ?? prefersStrong)(read?.answerA ?? '', read?.answerB ?? '');
      return Promise.resolve({ text, costUsd });
    }
    return Promise.resolve({ text: `${backend.name} answer`, costUsd });
  };
  const judge = new ShadowJudge({
    sink,
    send,
    now: () => now,
    logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }),
    maxQueue: options.maxQueue,
    maxConcurrent: options.maxConcurrent,
  });
  return {
    sink,
    calls,
    judge,
    lines,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

/** A ticket whose client already got `answer` from `served`. */
function served(tier: 'cheap' | 'strong', answer: string, servedBy: string) {
  const ticket = sampledTicket(world.table, tier, body, { modelVersion: 3 });
  Object.assign(ticket.shadow.capture, { answer, servedBackendId: servedBy });
  return ticket;
}

test('a cheap request: the strong tier answers, the judge compares both orders, gain 1', async () => {
  const { judge, sink, calls } = setup();
  const ticket = served('cheap', 'weak answer', 'default/weak');
  expect(judge.wants(ticket, Date.now())).toBe(true);
  judge.submit(ticket, world.table);
  await judge.idle();

  expect(calls.map((c) => c.backend)).toEqual(['default/strong', 'default/judge', 'default/judge']);
  expect(calls[0]?.body).toEqual(body);
  const orders = calls.slice(1).map((c) => {
    const messages = c.body.messages as { content: string }[];
    const read = readJudgeUserPrompt(messages[1]?.content ?? '');
    return [read?.question, read?.answerA, read?.answerB];
  });
  expect(orders).toEqual([
    ['What is 2+2?', 'strong answer', 'weak answer'],
    ['What is 2+2?', 'weak answer', 'strong answer'],
  ]);
  expect(sink.labels).toEqual([
    {
      rule: RULE_KEY,
      version: 3,
      features: Array.from(ticket.features),
      outcome: { kind: 'pairwise', gain: 1 },
    },
  ]);
  expect(sink.counters).toEqual({ shadowCalls: 1, judgeCalls: 2, costUsd: 0.003 });
  // The ticket (kept by the caller for feedback) no longer holds the body or the answer.
  expect(ticket.shadow).toBeUndefined();
});

test('a strong request asks the cheap tier; a judge that prefers the weak answer gives −1', async () => {
  const { judge, sink, calls } = setup({
    verdict: (a, b) => (a.startsWith('weak') ? '[[A]]' : b.startsWith('weak') ? '[[B]]' : ''),
  });
  judge.submit(served('strong', 'strong answer', 'default/strong'), world.table);
  await judge.idle();
  expect(calls[0]?.backend).toBe('default/weak');
  expect(sink.labels.map((l) => l.outcome)).toEqual([{ kind: 'pairwise', gain: -1 }]);
});

test('a judge that always picks the first position gives 0, not a false win', async () => {
  const { judge, sink } = setup({ verdict: () => 'Verdict: [[A]]' });
  judge.submit(served('cheap', 'weak answer', 'default/weak'), world.table);
  await judge.idle();
  expect(sink.labels.map((l) => l.outcome)).toEqual([{ kind: 'pairwise', gain: 0 }]);
});

test.each([
  ['an unreadable verdict', { verdict: () => 'both are fine' }],
  ['a contradictory verdict', { verdict: () => '[[A]] or rather [[B]]' }],
])('%s ends without a label, counted', async (_what, options) => {
  const { judge, sink } = setup(options);
  judge.submit(served('cheap', 'weak answer', 'default/weak'), world.table);
  await judge.idle();
  expect(sink.labels).toEqual([]);
  expect(sink.counters).toEqual({
    judgeFailures: 1,
    shadowCalls: 1,
    judgeCalls: 2,
    costUsd: 0.003,
  });
});

test('failed calls are counted, their cost too, and logged without text', async () => {
  const sink = new FakeSink();
  const lines: string[] = [];
  const judge = new ShadowJudge({
    sink,
    now: () => 0,
    logger: createLogger({ write: (l) => lines.push(l) }),
    send: (backend) =>
      backend.id === 'default/judge'
        ? Promise.reject(
            new ShadowCallError('status', backend.id, 'HTTP 500: What is 2+2? broke', {
              status: 500,
            }),
          )
        : Promise.resolve({ text: 'strong answer', costUsd: 0.002 }),
  });
  judge.submit(served('cheap', 'weak answer', 'default/weak'), world.table);
  judge.submit(served('cheap', 'weak answer', 'default/weak'), world.table);
  await judge.idle();
  expect(sink.labels).toEqual([]);
  expect(sink.counters).toEqual({
    shadowCalls: 2,
    judgeCalls: 4,
    judgeFailures: 2,
    costUsd: 0.004,
  });
  // One warning for both (throttled), naming the rule, the reason and the status only.
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0] as string)).toMatchObject({
    rule: RULE_KEY,
    reason: 'judge-call',
    kind: 'status',
    status: 500,
    backend: 'default/judge',
  });
  expect(lines[0]).not.toMatch(/2\+2|answer/);
});

test('answers that cannot be judged make no calls', async () => {
  const { judge, sink, calls } = setup();
  const cut = served('cheap', 'weak ans', 'default/weak');
  cut.shadow.capture.truncated = true;
  const broken = served('cheap', '', 'default/weak');
  delete broken.shadow.capture.servedBackendId;
  // Failed over to the strong backend: there is no other tier's answer to compare with.
  const failedOver = served('cheap', 'strong answer', 'default/strong');
  for (const t of [cut, broken, failedOver]) judge.submit(t, world.table);
  await judge.idle();
  expect(calls).toEqual([]);
  expect(sink.counters).toEqual({ judgeFailures: 3 });
});

test('the day budget stops sampling until the next UTC day', async () => {
  const limited = learningWorld(
    { weak: 'http://weak/v1', strong: 'http://strong/v1', judge: 'http://judge/v1' },
    { maxShadowCostPerDay: 0.005 },
  );
  const { judge, sink, advance, now } = setup({ cost: 0.001 });
  const ticket = () => {
    const t = sampledTicket(limited.table, 'cheap', body);
    Object.assign(t.shadow.capture, { answer: 'weak answer', servedBackendId: 'default/weak' });
    return t;
  };
  // Each sample costs 0.003 (a shadow call and two judge calls).
  for (let i = 0; i < 2; i++) {
    const t = ticket();
    expect(judge.wants(t, now())).toBe(true);
    judge.submit(t, limited.table);
    await judge.idle();
  }
  expect(judge.wants(ticket(), now())).toBe(false);
  expect(judge.wants(ticket(), now())).toBe(false);
  expect(sink.counters).toMatchObject({ shadowCalls: 2, overBudget: 2 });
  expect(sink.counters.costUsd).toBeCloseTo(0.006, 10);
  expect(sink.labels).toHaveLength(2);
  advance(DAY);
  expect(judge.wants(ticket(), now())).toBe(true);
});

test('a flood fills the queue; the rest is dropped and counted; close() aborts and drops', async () => {
  const sink = new FakeSink();
  const signals: AbortSignal[] = [];
  const judge = new ShadowJudge({
    sink,
    now: () => 0,
    logger: createLogger({ write: () => undefined }),
    maxQueue: 3,
    maxConcurrent: 1,
    // Never answers until aborted.
    send: (_backend, _body, signal) =>
      new Promise((_resolve, reject) => {
        signals.push(signal);
        signal.addEventListener('abort', () => reject(new Error('aborted')));
      }),
  });
  let wanted = 0;
  for (let i = 0; i < 10; i++) {
    const t = served('cheap', 'weak answer', 'default/weak');
    if (!judge.wants(t, 0)) continue;
    wanted++;
    judge.submit(t, world.table);
  }
  // One being judged, three queued; wants() refused the other six, counted as dropped.
  expect(wanted).toBe(4);
  expect(judge.pending).toBe(4);
  expect(sink.counters).toEqual({ shadowDropped: 6, shadowCalls: 1 });
  // A caller that submits without asking is bounded the same way.
  judge.submit(served('cheap', 'weak answer', 'default/weak'), world.table);
  expect(judge.pending).toBe(4);
  expect(sink.counters).toEqual({ shadowDropped: 7, shadowCalls: 1 });
  await judge.close();
  expect(signals).toHaveLength(1);
  expect(signals[0]?.aborted).toBe(true);
  expect(sink.counters.shadowDropped).toBe(7 + 3);
  expect(sink.counters.judgeFailures).toBe(1);
  expect(judge.pending).toBe(0);
  const late = served('cheap', 'weak answer', 'default/weak');
  expect(judge.wants(late, 0)).toBe(false);
});

test('a sample whose other tier or judge cannot take a low-priority call now is dropped', async () => {
  const sink = new FakeSink();
  const calls: string[] = [];
  let down = 'default/strong';
  const judge = new ShadowJudge({
    sink,
    now: () => 0,
    logger: createLogger({ write: () => undefined }),
    available: (id) => id !== down,
    send: (backend) => {
      calls.push(backend.id);
      return Promise.resolve({ text: '[[C]]', costUsd: 0 });
    },
  });
  judge.submit(served('cheap', 'weak answer', 'default/weak'), world.table);
  await judge.idle();
  down = 'default/judge';
  judge.submit(served('cheap', 'weak answer', 'default/weak'), world.table);
  await judge.idle();
  expect(calls).toEqual([]);
  expect(sink.counters).toEqual({ shadowDropped: 2 });
  down = '';
  judge.submit(served('cheap', 'weak answer', 'default/weak'), world.table);
  await judge.idle();
  expect(sink.labels.map((l) => l.outcome)).toEqual([{ kind: 'pairwise', gain: 0 }]);
});

test('close(graceMs) lets a sample being judged finish, and takes no new ones', async () => {
  const sink = new FakeSink();
  let release: (() => void) | undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const judge = new ShadowJudge({
    sink,
    now: () => 0,
    logger: createLogger({ write: () => undefined }),
    send: async (backend, sent) => {
      await gate;
      if (backend.id !== 'default/judge') return { text: 'strong answer', costUsd: 0 };
      const messages = sent.messages as { content: string }[];
      const read = readJudgeUserPrompt(messages[1]?.content ?? '');
      return { text: prefersStrong(read?.answerA ?? '', read?.answerB ?? ''), costUsd: 0 };
    },
  });
  judge.submit(served('cheap', 'weak answer', 'default/weak'), world.table);
  const closing = judge.close(60_000);
  const late = served('cheap', 'weak answer', 'default/weak');
  expect(judge.wants(late, 0)).toBe(false);
  judge.submit(late, world.table);
  release?.();
  await closing;
  expect(sink.labels.map((l) => l.outcome)).toEqual([{ kind: 'pairwise', gain: 1 }]);
  expect(sink.counters).toMatchObject({ shadowDropped: 1 });
});
