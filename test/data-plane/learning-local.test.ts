// Issue 17 in local mode: `modelroute dev` with a weak and a strong
// simulated backend answering with a data set's recorded quality, a
// simulated judge, and a route whose rule learns. The proxy shadow-judges
// the rule's requests, the in-process learner retrains on the labels,
// promotes a model, and the table serves it: on prompts it never saw, the
// rule's difficulty orders them far better than the shipped prior does.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevMode, type DevMode } from '../../src/proxy/local/dev-mode.js';
import { shippedDifficultyModel } from '../../src/routing/difficulty/learned/index.js';
import { routerMetrics } from '../../src/routing/difficulty/learned/metrics.js';
import { ruleKey } from '../../src/routing/table.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { eventually } from '../support/eventually.js';
import { learningExamples, writeLearningCsv } from '../support/learning-data.js';

const TRAIN = 260;
const LATER = 120;
const examples = learningExamples(TRAIN + LATER, 7);
const dir = mkdtempSync(join(tmpdir(), 'learning-local-'));
const csv = writeLearningCsv(dir, examples);
const RULE = ruleKey('default/chat', 'smart');

const backend = (
  name: string,
  query: string,
  quality: number,
  price: number,
) => `apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: {name: ${name}}
spec:
  provider: openai-compatible
  endpoint: simulate://${name}?${query}
  model: ${name}-model
  quality: ${quality}
  pricing: {inputPerMillion: ${price}, outputPerMillion: ${4 * price}}
`;
writeFileSync(
  join(dir, 'world.yaml'),
  [
    backend('weak', `qualityData=${encodeURIComponent(csv)}&qualityColumn=weak`, 0.4, 0.15),
    backend('strong', `qualityData=${encodeURIComponent(csv)}&qualityColumn=strong`, 0.9, 2.5),
    backend('judge', 'judge=1', 0.95, 1),
    `apiVersion: modelroute.io/v1alpha1
kind: ModelRoute
metadata: {name: chat}
spec:
  model: chat
  rules:
    - name: smart
      strategy: cost-quality
      costQuality:
        strongShare: 0.5
        learning: {sampleRate: 1, judgeRef: {name: judge}, maxShadowCostPerDay: 100, minLabels: 100}
      backendRefs: [{name: weak}, {name: strong}]
`,
  ].join('---\n'),
);

let dev: DevMode;
beforeAll(async () => {
  dev = await startDevMode({
    configPaths: [dir],
    simulateAll: false,
    host: '127.0.0.1',
    dataPort: 0,
    adminPort: 0,
    learningIntervalMs: 100,
    logger: createLogger({ level: 'error', write: () => undefined }),
  });
});
afterAll(() => dev.close());

async function ask(content: string): Promise<Response> {
  const res = await fetch(`${dev.proxy.dataUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
  return res;
}

/** Samples that ended, one way or another (the shadow queue is bounded: pace the traffic). */
const settled = (): number => {
  const c = dev.proxy.runtime.learning.stats().rules[RULE];
  return c ? c.labels + c.shadowDropped + c.judgeFailures + c.overBudget : 0;
};

test('the rule learns from judged traffic, promotes a model and orders later prompts better than the prior', async () => {
  const first = await ask(examples[0]!.prompt);
  expect(first.headers.get('x-modelroute-model-version')).toBe('0');
  for (let i = 1; i < TRAIN; i += 10) {
    await Promise.all(examples.slice(i, i + 10).map((e) => ask(e.prompt)));
    await eventually(
      () => expect(settled()).toBeGreaterThanOrEqual(Math.min(i + 10, TRAIN)),
      20_000,
      10,
    );
  }
  const counters = dev.proxy.runtime.learning.stats().rules[RULE]!;
  expect(counters.labels).toBeGreaterThanOrEqual(200);
  expect(counters.costUsd).toBeGreaterThan(0);

  // Promoted in-process and pushed into the table.
  await eventually(() => expect(dev.learning?.models().get(RULE)?.version).toBe(1), 20_000, 50);
  const later = examples.slice(TRAIN);
  const difficulties: number[] = [];
  for (const e of later) {
    const res = await ask(e.prompt);
    expect(res.headers.get('x-modelroute-model-version')).toBe('1');
    difficulties.push(Number(res.headers.get('x-modelroute-difficulty')));
  }
  const prior = shippedDifficultyModel();
  const priorApgr = routerMetrics(
    later.map((e) => prior.score(e.prompt)),
    later,
  ).apgr!;
  const adaptedApgr = routerMetrics(difficulties, later).apgr!;
  expect(priorApgr).toBeLessThan(0.4);
  expect(adaptedApgr).toBeGreaterThan(0.65);
  expect(adaptedApgr - priorApgr).toBeGreaterThan(0.3);
}, 120_000);
