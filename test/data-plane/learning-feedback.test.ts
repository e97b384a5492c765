// Learning rules on a real proxy (issue 17): every response carries a request
// id; the caller that made a request may score it once, within its rule's
// feedback window, and the score becomes a label the controller reads from
// /admin/v1/stats; a model pushed for the rule routes its requests (a refused
// one falls back to the proxy's own, no request fails); and what the admin
// port reports holds numbers, never the prompts or the answers.
import OpenAI from 'openai';
import { generateApiKey } from '../../src/identity/api-key.js';
import { proxyLearningStats, type ProxyLearningStats } from '../../src/learning/wire.js';
import { compileIdentity } from '../../src/routing/compile-tenants.js';
import { compileRoutingTable, type LearnedModel } from '../../src/routing/compile.js';
import { ruleKey } from '../../src/routing/table.js';
import type { LearningTicket } from '../../src/proxy/learning/ticket.js';
import {
  corruptModelFile,
  shiftedModelFile,
} from '../../src/proxy/learning/__fixtures__/learned-model.js';
import {
  ADMIN_TOKEN,
  apiKey,
  post,
  route,
  startDataPlane,
  tenant,
  type DataPlane,
} from '../support/data-plane.js';

const ALPHA_KEY = generateApiKey(() => Buffer.alloc(32, 11));
const BETA_KEY = generateApiKey(() => Buffer.alloc(32, 12));
const RULE = ruleKey('default/chat', 'learn');
const WINDOW_MS = 60_000;

const routes = [
  route('chat', {
    rules: [
      {
        name: 'learn',
        strategy: 'cost-quality',
        costQuality: { threshold: 0.5, learning: { sampleRate: 0, feedbackWindow: '1m' } },
        backendRefs: [{ name: 'mini' }, { name: 'big' }],
      },
    ],
  }),
  route('plain', { rules: [{ name: 'all', backendRefs: [{ name: 'mini' }] }] }),
  route('judged', {
    rules: [
      {
        name: 'sampled',
        strategy: 'cost-quality',
        costQuality: {
          threshold: 0.5,
          learning: { sampleRate: 1, judgeRef: { name: 'big' }, maxShadowCostPerDay: 1 },
        },
        backendRefs: [{ name: 'mini' }, { name: 'big' }],
      },
    ],
  }),
];
/** What the stand-in shadow judge was handed, after each client had its answer. */
const judged: LearningTicket[] = [];
const backends = [
  {
    name: 'mini',
    spec: { quality: 0.5, pricing: { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
  },
  { name: 'big', spec: { quality: 0.9, pricing: { inputPerMillion: 2.5, outputPerMillion: 10 } } },
];
const compiledAtMs = Date.now();
const identity = compileIdentity(
  'default',
  [tenant('alpha'), tenant('beta')],
  [apiKey('k-alpha', ALPHA_KEY, 'alpha'), apiKey('k-beta', BETA_KEY, 'beta')],
  { unmatched: 'deny' },
  compiledAtMs,
);

/** Prompts no table, counter or id could contain by chance. */
const PROMPTS = [
  'hi there, quick greeting from the orchard of velvet kumquats',
  'Describe the migratory habits of the luminous Patagonian ferret-owl in one line.',
  'Compute 4471 * 389 and explain each carry of the zeppelin arithmetic.',
];

let dp: DataPlane;
let offsetMs = 0;
beforeAll(async () => {
  dp = await startDataPlane(backends, routes, {
    identity: {
      mode: 'gateway',
      tokenReviewer: { review: () => Promise.resolve({ authenticated: false }) },
    },
    now: () => Date.now() + offsetMs,
    learningEpoch: 'epoch-test',
    // A stand-in for the shadow judge: every sample wins for the strong tier.
    shadowJudge: (sink) => ({
      wants: () => true,
      submit: (ticket) => {
        judged.push(ticket);
        sink.push(ticket.ruleKey, ticket.modelVersion, ticket.features, {
          kind: 'pairwise',
          gain: 1,
        });
      },
      close: () => Promise.resolve(),
    }),
  });
  install();
});
afterAll(() => dp.close());

function install(models: Array<[string, LearnedModel]> = []): void {
  const table = compileRoutingTable(routes, dp.backends, undefined, {
    identity,
    learnedModels: new Map(models),
  });
  const result = dp.proxy.runtime.store.update(table);
  if (!result.ok) throw new Error(result.error);
}

const client = (key: string) =>
  new OpenAI({ baseURL: `${dp.proxy.dataUrl}/v1`, apiKey: key, maxRetries: 0 });

async function chat(key: string, content: string, model = 'chat') {
  const { data, response } = await client(key)
    .chat.completions.create({ model, messages: [{ role: 'user', content }] })
    .withResponse();
  const h = (name: string) => response.headers.get(name);
  return {
    id: h('x-modelroute-request-id') ?? '',
    version: h('x-modelroute-model-version'),
    tier: h('x-modelroute-tier'),
    backend: h('x-modelroute-backend'),
    answer: data.choices[0]?.message.content ?? '',
  };
}

const feedback = (key: string, body: unknown) =>
  post(`${dp.proxy.dataUrl}/v1/feedback`, body, { authorization: `Bearer ${key}` });

async function stats(query = ''): Promise<{ text: string; learning: ProxyLearningStats }> {
  const res = await fetch(`${dp.proxy.adminUrl}/admin/v1/stats${query}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`stats ${res.status}: ${text}`);
  return {
    text,
    learning: proxyLearningStats.parse((JSON.parse(text) as { learning: unknown }).learning),
  };
}

test('every data-port answer carries a fresh request id, errors too', async () => {
  const ids = new Set<string>();
  for (let i = 0; i < 3; i++) ids.add((await chat(ALPHA_KEY, 'hello')).id);
  const refused = await post(`${dp.proxy.dataUrl}/v1/chat/completions`, { model: 'chat' }, {});
  expect(refused.status).toBe(401);
  ids.add(refused.headers.get('x-modelroute-request-id') ?? '');
  const unknown = await fetch(`${dp.proxy.dataUrl}/v2/nothing`);
  expect(unknown.status).toBe(404);
  ids.add(unknown.headers.get('x-modelroute-request-id') ?? '');
  expect(ids.size).toBe(5);
  for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
});

test('feedback: accepted once for the caller’s own recent request, refused clearly otherwise', async () => {
  const served = await chat(ALPHA_KEY, PROMPTS[0] as string);
  expect(served).toMatchObject({ version: '0', tier: 'cheap', backend: 'default/mini' });

  expect(await feedback(BETA_KEY, { request_id: served.id, score: 1 })).toMatchObject({
    status: 404,
    json: { error: { code: 'request_not_found' } },
  });
  const accepted = await feedback(ALPHA_KEY, { request_id: served.id, thumbs: 'up' });
  expect(accepted).toMatchObject({ status: 200, json: { accepted: true, score: 1 } });
  expect(accepted.headers.get('x-modelroute-request-id')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(await feedback(ALPHA_KEY, { request_id: served.id, score: 0 })).toMatchObject({
    status: 409,
    json: { error: { code: 'feedback_already_given' } },
  });
  expect(await feedback(ALPHA_KEY, { request_id: 'no-such-request', score: 0 })).toMatchObject({
    status: 404,
  });
  expect(await feedback(ALPHA_KEY, { request_id: served.id })).toMatchObject({
    status: 400,
    json: { error: { code: 'invalid_feedback' } },
  });
  expect((await feedback('sk-wrong', { request_id: served.id, score: 1 })).status).toBe(401);
  // A rule that does not learn keeps no requests for feedback.
  const plain = await chat(ALPHA_KEY, 'hello', 'plain');
  expect(plain.version).toBeNull();
  expect((await feedback(ALPHA_KEY, { request_id: plain.id, score: 1 })).status).toBe(404);

  const late = await chat(ALPHA_KEY, PROMPTS[1] as string);
  offsetMs += WINDOW_MS + 1;
  expect(await feedback(ALPHA_KEY, { request_id: late.id, score: 0.5 })).toMatchObject({
    status: 410,
    json: { error: { code: 'feedback_window_closed' } },
  });

  const { learning } = await stats();
  const labels = learning.labels.filter((l) => l.outcome.kind === 'feedback');
  expect(labels).toHaveLength(1);
  expect(labels[0]).toMatchObject({
    rule: RULE,
    modelVersion: 0,
    outcome: { kind: 'feedback', tier: 'cheap', score: 1 },
  });
  expect(learning.rules[RULE]).toMatchObject({ feedbackAccepted: 1, labels: 1 });
  // Another tenant's (counted as refused for the rule), repeated, expired.
  expect(learning.rules[RULE]?.feedbackRefused).toBe(3);
  // The reader's cursor: nothing after the last label it has.
  const last = labels[0]?.seq ?? 0;
  expect((await stats(`?labelsAfter=epoch-test:${last}`)).learning.labels).toEqual([]);
  const bad = await fetch(`${dp.proxy.adminUrl}/admin/v1/stats?labelsAfter=nonsense`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(bad.status).toBe(400);
});

test('a model pushed for the rule routes its requests; a refused one falls back to the prior', async () => {
  const prompt = PROMPTS[2] as string;
  install([[RULE, { version: 1, file: shiftedModelFile('all-hard', 50) }]]);
  expect(await chat(ALPHA_KEY, prompt)).toMatchObject({
    version: '1',
    tier: 'strong',
    backend: 'default/big',
  });
  const scored = await chat(ALPHA_KEY, prompt);
  expect((await feedback(ALPHA_KEY, { request_id: scored.id, score: 0.75 })).status).toBe(200);
  const label = (await stats()).learning.labels.at(-1);
  expect(label).toMatchObject({ modelVersion: 1, outcome: { tier: 'strong', score: 0.75 } });

  install([[RULE, { version: 2, file: corruptModelFile('broken') }]]);
  expect(await chat(ALPHA_KEY, prompt)).toMatchObject({ version: '0', tier: 'cheap' });
  const metrics = await (await fetch(`${dp.proxy.adminUrl}/metrics`)).text();
  expect(metrics).toContain(`modelroute_learned_model_refusals_total{rule="${RULE}"} 1`);
  expect(metrics).toMatch(/modelroute_feedback_total\{result="accepted"\} [1-9]/);
});

test('a sampled request goes to the shadow judge once its client has the answer; its label reaches the stats', async () => {
  const served = await chat(ALPHA_KEY, PROMPTS[1] as string, 'judged');
  expect(judged.map((t) => t.requestId)).toEqual([served.id]);
  expect(judged[0]?.shadow?.body).toMatchObject({ model: 'judged' });
  const { learning } = await stats();
  const key = ruleKey('default/judged', 'sampled');
  expect(learning.labels.filter((l) => l.rule === key)).toMatchObject([
    { modelVersion: 0, outcome: { kind: 'pairwise', gain: 1 } },
  ]);
  expect(learning.rules[key]).toMatchObject({ sampled: 1, labels: 1 });
});

test('what the admin port reports carries no prompt and no answer text', async () => {
  install();
  const answers: string[] = [];
  for (const [i, prompt] of PROMPTS.entries()) {
    const served = await chat(ALPHA_KEY, prompt, i === 0 ? 'judged' : 'chat');
    answers.push(served.answer);
    await feedback(ALPHA_KEY, { request_id: served.id, score: 0.5 });
  }
  const { text, learning } = await stats();
  expect(learning.labels.length).toBeGreaterThanOrEqual(PROMPTS.length);
  for (const secret of [...PROMPTS, ...answers]) {
    expect(secret.length).toBeGreaterThanOrEqual(8);
    for (let i = 0; i + 8 <= secret.length; i++) {
      const piece = secret.slice(i, i + 8);
      if (text.includes(piece)) throw new Error(`admin stats contain ${JSON.stringify(piece)}`);
    }
  }
});
