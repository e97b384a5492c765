// Shadow judging over real HTTP (issue 17): a weak and a strong simulated
// backend answer with the quality a data set records for each prompt, a
// simulated judge compares answers by it, and the proxy's own forward serves
// the client while ShadowJudge labels the samples behind it.
//
// ProxyLearning (which makes tickets in the inference handler) is built
// beside this piece; until it is wired, a small front server here does its
// part: it picks the tier, makes the ticket, asks wants(), calls the proxy's
// real `forward` with it and submits the ticket once the client has a 200.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LearningOutcome, RuleLearningCounters } from '../../src/learning/wire.js';
import { forward } from '../../src/proxy/forward.js';
import {
  RULE,
  ROUTE_ID,
  sampledTicket,
} from '../../src/proxy/learning/__fixtures__/learning-route.js';
import {
  proxyShadowJudge,
  type ShadowJudge,
  type ShadowSink,
} from '../../src/proxy/learning/shadow-judge.js';
import type { LearningTicket, ShadowCapture } from '../../src/proxy/learning/ticket.js';
import type { ProxyRuntime } from '../../src/proxy/runtime.js';
import { tierLeaders } from '../../src/routing/strategies/cost-quality.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { NON_RECORDING_SPAN } from '../../src/telemetry/tracing.js';
import { route, startDataPlane, judgedBackends, type DataPlane } from '../support/data-plane.js';

/** The data set: each prompt's outcome on the weak and on the strong model. */
const OUTCOMES = [
  { prompt: 'Prove that there are infinitely many primes.', weak: 0, strong: 1, gain: 1 },
  { prompt: 'What is the capital of France?', weak: 1, strong: 1, gain: 0 },
  { prompt: 'Translate "good night" to German.', weak: 1, strong: 0, gain: -1 },
  { prompt: 'Integrate x^2 * e^x dx.', weak: 0, strong: 0, gain: 0 },
];
const dir = mkdtempSync(join(tmpdir(), 'shadow-judging-'));
const CSV = join(dir, 'outcomes.csv');
writeFileSync(
  CSV,
  'prompt,weak,strong\n' +
    OUTCOMES.map((o) => `"${o.prompt.replace(/"/g, '""')}",${o.weak},${o.strong}`).join('\n'),
);

class RecordingSink implements ShadowSink {
  labels: { rule: string; features: number[]; outcome: LearningOutcome }[] = [];
  counters: Partial<Record<keyof RuleLearningCounters, number>> = {};
  push(rule: string, _version: number, features: ArrayLike<number>, outcome: LearningOutcome) {
    this.labels.push({ rule, features: Array.from(features), outcome });
  }
  count(_rule: string, field: keyof RuleLearningCounters, n: number) {
    this.counters[field] = (this.counters[field] ?? 0) + n;
  }
}

let dp: DataPlane;
beforeAll(async () => {
  const learning = { sampleRate: 1, judgeRef: { name: 'judge' }, maxShadowCostPerDay: 5 };
  dp = await startDataPlane(
    [
      ...judgedBackends(CSV),
      // An ordinary backend: as a judge it never gives a verdict.
      { name: 'babbler', simulator: {} },
    ],
    [
      route('assistant', {
        rules: [
          {
            name: RULE,
            strategy: 'cost-quality',
            costQuality: { threshold: 0.5, learning },
            backendRefs: [{ name: 'weak' }, { name: 'strong' }],
          },
        ],
      }),
    ],
  );
});
afterAll(() => dp.close());

interface Front {
  url: string;
  judge: ShadowJudge;
  sink: RecordingSink;
  /** Tickets that were sampled, in arrival order. */
  tickets: LearningTicket[];
  /** Their captures (the judge lets go of a ticket's once it is judged). */
  captures: ShadowCapture[];
  close(): Promise<void>;
}

/**
 * What ProxyLearning does around `forward`, for requests of the learning
 * rule: `x-test-tier` picks the tier (cheap: the weak backend leads).
 * Sampling off: no ticket at all.
 */
async function startFront(
  options: {
    sampling?: boolean;
    maxQueue?: number;
    maxConcurrent?: number;
    ticket?: (t: LearningTicket) => LearningTicket;
  } = {},
): Promise<Front> {
  const runtime: ProxyRuntime = dp.proxy.runtime;
  const sink = new RecordingSink();
  const judge = proxyShadowJudge(
    sink,
    { ...runtime, logger: createLogger({ level: 'error', write: () => undefined }) },
    { maxQueue: options.maxQueue, maxConcurrent: options.maxConcurrent },
  );
  const tickets: LearningTicket[] = [];
  const captures: ShadowCapture[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      const prepared = runtime.store.prepared;
      const source = prepared?.routeById.get(ROUTE_ID)?.source;
      const rule = source?.rules[0];
      const leaders = prepared && rule && tierLeaders(rule.backends, prepared.backendById);
      if (!prepared || !source || !leaders) throw new Error('the learning route is missing');
      const tier = req.headers['x-test-tier'] === 'strong' ? 'strong' : 'cheap';
      const backend = tier === 'strong' ? leaders.strongest : leaders.cheapest;
      let ticket: LearningTicket | undefined;
      if (options.sampling !== false) {
        const made = sampledTicket(prepared, tier, body);
        const candidate = options.ticket ? options.ticket(made) : made;
        sink.count(candidate.ruleKey, 'sampled', 1); // as ProxyLearning does when sampleRate picks
        if (judge.wants(candidate, runtime.now())) ticket = candidate;
      }
      if (ticket?.shadow) {
        tickets.push(ticket);
        captures.push(ticket.shadow.capture);
      }
      const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
      await forward(runtime, {
        req,
        res,
        endpoint: 'chat',
        body,
        stream: body.stream === true,
        clientWantsUsage: streamOptions?.include_usage === true,
        route: source,
        ruleName: RULE,
        attempts: [{ backend, routeId: source.id, ruleName: RULE, source: 'rule', priority: 0 }],
        estimatedTokens: 100,
        routingHeaders: {},
        arrivedAt: process.hrtime.bigint(),
        parentSpan: NON_RECORDING_SPAN,
        tally: {
          on: {
            route: source.id,
            rule: RULE,
            backend: '',
            model: '',
            tier,
            tenant: 'default/default',
            namespace: '',
            workload: '',
          },
          tiered: true,
          fallback: false,
          costUSD: 0,
          mostExpensiveCostUSD: 0,
          strongestCostUSD: 0,
        },
        learning: ticket,
      });
      if (ticket && res.statusCode === 200) judge.submit(ticket, prepared);
    })().catch((err: unknown) => {
      res.statusCode = 599; // the test's own front broke: make it loud
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    judge,
    sink,
    tickets,
    captures,
    async close() {
      await judge.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function ask(
  front: Front,
  prompt: string,
  options: { tier?: 'cheap' | 'strong'; stream?: boolean } = {},
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${front.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-test-tier': options.tier ?? 'cheap' },
    body: JSON.stringify({
      model: 'assistant',
      messages: [{ role: 'user', content: prompt }],
      ...(options.stream ? { stream: true } : {}),
    }),
  });
  return { status: res.status, text: await res.text() };
}

/** A response body without what differs between any two answers (ids, timestamps). */
const normalised = (text: string) =>
  text.replace(/"id":"[^"]*"/g, '"id":"…"').replace(/"created":\d+/g, '"created":0');

test('labels reach the sink with the gains the data set records, buffered and streamed', async () => {
  const front = await startFront();
  try {
    for (const o of OUTCOMES) {
      expect((await ask(front, o.prompt)).status).toBe(200);
      expect((await ask(front, o.prompt, { tier: 'strong', stream: true })).status).toBe(200);
    }
    await front.judge.idle();
    // Each prompt twice: served by the weak tier (buffered) and by the strong one (streamed).
    const expected = OUTCOMES.flatMap((o) => [o.gain, o.gain]);
    expect(front.sink.labels.map((l) => l.outcome)).toEqual(
      expected.map((gain) => ({ kind: 'pairwise', gain })),
    );
    expect(front.sink.labels.map((l) => l.features)).toEqual(
      front.tickets.map((t) => Array.from(t.features)),
    );
    expect(front.sink.counters).toMatchObject({ sampled: 8, shadowCalls: 8, judgeCalls: 16 });
    expect(front.sink.counters.judgeFailures).toBeUndefined();
    expect(front.sink.counters.costUsd).toBeGreaterThan(0);
    // The capture is the answer the client got, with the serving backend.
    const [first, second] = front.captures;
    expect(first?.servedBackendId).toBe('default/weak');
    expect(first?.answer).toMatch(/^⟦q=0⟧ \S+/);
    expect(second?.servedBackendId).toBe('default/strong');
    expect(second?.answer).toMatch(/^⟦q=1⟧ \S+/);
    // Judged: the tickets (kept for feedback) no longer hold the texts.
    expect(front.tickets.every((t) => t.shadow === undefined)).toBe(true);
  } finally {
    await front.close();
  }
});

test("the client's response is the same with sampling on and off", async () => {
  const on = await startFront();
  const off = await startFront({ sampling: false });
  try {
    for (const stream of [false, true]) {
      for (const o of OUTCOMES) {
        const a = await ask(on, o.prompt, { stream });
        const b = await ask(off, o.prompt, { stream });
        expect(a.status).toBe(200);
        expect(normalised(a.text)).toBe(normalised(b.text));
      }
    }
    await on.judge.idle();
    expect(on.sink.labels).toHaveLength(8);
    expect(off.tickets).toEqual([]);
  } finally {
    await Promise.all([on.close(), off.close()]);
  }
});

test('a judge answering 500, or without a verdict, costs the client nothing: failures are counted', async () => {
  const failing = await startFront();
  const babbling = await startFront({
    ticket: (t) => ({ ...t, learning: { ...t.learning, judgeBackendId: 'default/babbler' } }),
  });
  dp.sims.judge?.setBehavior({ errorRate: 1, errorStatus: 500 });
  try {
    for (const front of [failing, babbling]) {
      for (const o of OUTCOMES) expect((await ask(front, o.prompt)).status).toBe(200);
      await front.judge.idle();
      expect(front.sink.labels).toEqual([]);
      expect(front.sink.counters).toMatchObject({ sampled: 4, judgeFailures: 4 });
    }
  } finally {
    dp.sims.judge?.setBehavior({ errorRate: undefined, errorStatus: undefined });
    await Promise.all([failing.close(), babbling.close()]);
  }
});

test('a flood of sampled requests: every client gets its answer, the excess is dropped and counted', async () => {
  const front = await startFront({ maxQueue: 2, maxConcurrent: 1 });
  // The judge hangs: the first sample holds the only slot, two wait, the rest find no room.
  dp.sims.judge?.setBehavior({ stallMs: Infinity });
  try {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => ask(front, OUTCOMES[i % 4]?.prompt ?? '')),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(front.sink.counters).toMatchObject({ sampled: 12, shadowDropped: 9 });
    await front.judge.close();
    expect(front.sink.counters).toMatchObject({ sampled: 12, shadowDropped: 11, judgeFailures: 1 });
    expect(front.sink.labels).toEqual([]);
  } finally {
    dp.sims.judge?.setBehavior({ stallMs: undefined });
    await front.close();
  }
});

test("the day's budget stops sampling once spent, and counts what it skipped", async () => {
  // Less than one sample's cost: the first sample is made, then the day is spent.
  const front = await startFront({
    ticket: (t) => ({ ...t, learning: { ...t.learning, maxShadowCostPerDayUsd: 1e-7 } }),
  });
  try {
    for (const o of [...OUTCOMES, ...OUTCOMES]) {
      expect((await ask(front, o.prompt)).status).toBe(200);
      await front.judge.idle();
    }
    expect(front.sink.labels).toHaveLength(1);
    expect(front.sink.counters).toMatchObject({ sampled: 8, overBudget: 7, shadowCalls: 1 });
    expect(front.sink.counters.costUsd).toBeGreaterThan(1e-7);
  } finally {
    await front.close();
  }
});
