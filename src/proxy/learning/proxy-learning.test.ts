import { backend, route } from '../../routing/__fixtures__/objects.js';
import { compileRoutingTable } from '../../routing/compile.js';
import { prepareTable } from '../../routing/prepared-table.js';
import type { CompiledRule } from '../../routing/table.js';
import { createLogger } from '../../telemetry/logger.js';
import { createProxyMetrics } from '../../telemetry/proxy-metrics.js';
import { DifficultyRouter } from '../difficulty-router.js';
import { ProxyLearning } from './proxy-learning.js';
import type { ShadowJudging } from './shadow-judging.js';
import type { LearningTicket } from './ticket.js';

const table = compileRoutingTable(
  [
    route('chat', {
      rules: [
        {
          name: 'learn',
          strategy: 'cost-quality',
          costQuality: {
            threshold: 0.5,
            learning: { sampleRate: 0.5, judgeRef: { name: 'big' } },
          },
          backendRefs: [{ name: 'mini' }, { name: 'big' }],
        },
      ],
    }),
  ],
  [backend('mini', { quality: 0.5 }), backend('big', { quality: 0.9 })],
);
const prepared = prepareTable(table);
const rule = table.routes[0]?.rules[0] as CompiledRule;

function setUp(judge?: Partial<ShadowJudging>) {
  const textScored: string[] = [];
  const prior = new DifficultyRouter(
    (prompt) => {
      textScored.push(prompt);
      return 0.2;
    },
    { name: 'test', checksum: null, source: 'test' },
    () => 0.3,
  );
  let draw = 0;
  const learning = new ProxyLearning({
    now: () => 1_000,
    rng: () => [0.1, 0.9][draw++ % 2] as number,
    logger: createLogger({ level: 'error', write: () => {} }),
    metrics: createProxyMetrics(),
    prior,
    epoch: 'e',
  });
  const submitted: LearningTicket[] = [];
  if (judge)
    learning.useShadowJudge({
      wants: () => true,
      submit: (t) => submitted.push(t),
      close: () => Promise.resolve(),
      ...judge,
    });
  learning.configure(table);
  return { learning, textScored, submitted };
}

const ticketFor = (learning: ProxyLearning, requestId: string) => {
  const scoring = learning.scoring('What is 2 + 2?');
  const score = scoring.difficulty(rule);
  const ticket = learning.ticket({
    requestId,
    routeId: 'default/chat',
    rule,
    tier: 'cheap',
    tenantId: 't',
    body: { model: 'chat', messages: [] },
    scoring,
  });
  return { score, ticket, scoring };
};

describe('ProxyLearning', () => {
  it('scores a learning rule on features extracted once, shared with the ticket', () => {
    const { learning, textScored } = setUp();
    const { score, ticket, scoring } = ticketFor(learning, 'r1');
    expect(score).toBe(0.3); // the prior's feature scorer, not its text scorer
    expect(textScored).toEqual([]);
    expect(ticket?.features).toBe(scoring.features());
    expect(ticket).toMatchObject({
      ruleKey: 'default/chat#learn',
      modelVersion: 0,
    });
    expect(ticket?.shadow).toBeUndefined(); // no judge: nothing sampled
  });

  it('samples at the rule’s rate when a judge wants it, and hands samples over after a 200 only', () => {
    const { learning, submitted } = setUp({});
    const first = ticketFor(learning, 'a').ticket as LearningTicket; // draw 0.1 < 0.5: sampled
    const second = ticketFor(learning, 'b').ticket as LearningTicket; // draw 0.9: not
    expect(first.shadow?.body).toEqual({ model: 'chat', messages: [] });
    expect(second.shadow).toBeUndefined();
    learning.finished(first, 200, prepared);
    learning.finished(second, 200, prepared);
    expect(submitted).toEqual([first]);
    expect(learning.stats().rules['default/chat#learn']).toMatchObject({ sampled: 1 });

    const failed = ticketFor(learning, 'c').ticket as LearningTicket;
    learning.finished(failed, 502, prepared);
    expect(submitted).toHaveLength(1);
    expect(learning.feedback('c', 't', 1)).toMatchObject({ ok: false, reason: 'unknown' });
    expect(learning.feedback('b', 't', 1)).toMatchObject({ ok: true });
  });

  it('survives a judge that throws: counted, never thrown to the request', () => {
    const { learning } = setUp({
      wants: () => {
        throw new Error('boom');
      },
      submit: () => {
        throw new Error('boom');
      },
    });
    const { ticket } = ticketFor(learning, 'a');
    expect(ticket?.shadow).toBeUndefined();
    const sampled = {
      ...(ticket as LearningTicket),
      shadow: { body: { model: 'x' }, capture: { answer: '', truncated: false } },
    };
    expect(() => learning.finished(sampled, 200, prepared)).not.toThrow();
    expect(learning.stats().rules['default/chat#learn']).toMatchObject({ judgeFailures: 1 });
  });
});
