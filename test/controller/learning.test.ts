// Issue 17, end to end on the real API server: simulated weak and strong
// backends answer with the quality a shared data set records for each
// prompt, a simulated judge compares their answers, and traffic flows
// through a real proxy whose rule learns. The proxy shadow-judges the
// rule's requests and reports labelled feature vectors; the leading
// controller collects them, retrains, promotes the rule's own model, records
// an Event, stores it in a ConfigMap and pushes it with the table. Later
// prompts are ordered far better than by the prior; `kubectl get mr -o wide`
// shows the model; a restarted controller keeps it and a new proxy gets it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/controller.js';
import { LEARNING_LABEL } from '../../src/controller/learning-store.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { shippedDifficultyModel } from '../../src/routing/difficulty/learned/index.js';
import { routerMetrics } from '../../src/routing/difficulty/learned/metrics.js';
import { ruleKey } from '../../src/routing/table.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createNamespace, installCRDs, parseTable } from '../support/cluster.js';
import {
  backendObject,
  ClusterHandle,
  startFastReplica,
  startTestProxy,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import {
  learningExamples,
  writeLearningCsv,
  type LearningExample,
} from '../support/learning-data.js';

const CASE_TIMEOUT_MS = 240_000;
const ROUTE = 'learns';
const RULE_NAME = 'smart';
const TRAIN = 260;
const LATER = 120;
const examples = learningExamples(TRAIN + LATER, 11);

let cluster: ClusterHandle;
let sims: SimulatedBackend[] = [];
let controller: RunningController | undefined;
const proxies: RunningProxy[] = [];

interface LearningShown {
  status?: {
    learning?: {
      modelVersion: number;
      model: string;
      labels: number;
      promotions: number;
      costUSD: number;
      shadowCalls: number;
      heldOut?: { labels: number; champion?: number; prior?: number };
    };
  };
}

async function startLeading(identity: string): Promise<RunningController> {
  const c = await startFastReplica(cluster, identity, { learningFlushIntervalMs: 300 });
  await eventually(() => expect(c.isLeader).toBe(true), 20_000);
  return c;
}

async function proxyAt(host: string, podName: string): Promise<RunningProxy> {
  const p = await startTestProxy(host);
  proxies.push(p);
  cluster.registerProxy(podName, p);
  await eventually(async () => {
    const res = await fetch(`${p.dataUrl}/v1/models`);
    const ids = ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id);
    expect(ids).toContain(ROUTE);
  }, 60_000);
  return p;
}

async function ask(p: RunningProxy, content: string): Promise<Response> {
  const res = await fetch(`${p.dataUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: ROUTE, messages: [{ role: 'user', content }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
  return res;
}

beforeAll(async () => {
  installCRDs();
  cluster = new ClusterHandle(createNamespace('learning'));
  const csv = writeLearningCsv(mkdtempSync(join(tmpdir(), 'learning-e2e-')), examples);
  const weak = await startSimulatedBackend({ qualityData: csv, qualityColumn: 'weak' });
  const strong = await startSimulatedBackend({ qualityData: csv, qualityColumn: 'strong' });
  const judge = await startSimulatedBackend({ judge: true });
  sims = [weak, strong, judge];
  const priced = (name: string, sim: SimulatedBackend, quality: number, price: number) =>
    backendObject(name, sim, {
      quality,
      pricing: { inputPerMillion: price, outputPerMillion: 4 * price },
    });
  cluster.apply([
    priced('weak', weak, 0.4, 0.15),
    priced('strong', strong, 0.9, 2.5),
    priced('judge', judge, 0.95, 1),
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: ROUTE },
      spec: {
        model: ROUTE,
        rules: [
          {
            name: RULE_NAME,
            strategy: 'cost-quality',
            costQuality: {
              strongShare: 0.5,
              learning: {
                sampleRate: 1,
                judgeRef: { name: 'judge' },
                maxShadowCostPerDay: 100,
                minLabels: 100,
              },
            },
            backendRefs: [{ name: 'weak' }, { name: 'strong' }],
          },
        ],
      },
    },
  ]);
  controller = await startLeading('learning-1');
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(sims.map((s) => s.close()));
});

const apgr = (scores: number[], set: readonly LearningExample[]): number =>
  routerMetrics(scores, set).apgr as number;

test(
  'the controller learns the rule model from judged traffic, promotes it durably, and later traffic is routed better',
  async () => {
    const p1 = await proxyAt('127.0.0.17', 'proxy-learning-1');
    const rule = ruleKey(`${cluster.namespace}/${ROUTE}`, RULE_NAME);
    const settled = (): number => {
      const c = p1.runtime.learning.stats().rules[rule];
      return c ? c.labels + c.shadowDropped + c.judgeFailures + c.overBudget : 0;
    };
    // Paced so the bounded shadow queue keeps up.
    for (let i = 0; i < TRAIN; i += 10) {
      await Promise.all(examples.slice(i, i + 10).map((e) => ask(p1, e.prompt)));
      await eventually(
        () => expect(settled()).toBeGreaterThanOrEqual(Math.min(i + 10, TRAIN)),
        20_000,
        10,
      );
    }

    // The controller collected the labels, retrained and promoted.
    let shown: NonNullable<LearningShown['status']>['learning'];
    await eventually(() => {
      shown = cluster.json<LearningShown>(['get', 'mr', ROUTE]).status?.learning;
      expect(shown?.modelVersion).toBe(1);
    }, 60_000);
    expect(shown?.labels).toBeGreaterThanOrEqual(200);
    expect(shown?.promotions).toBe(1);
    expect(shown?.heldOut?.champion).toBeGreaterThan(shown?.heldOut?.prior ?? 1);
    await eventually(() => {
      const now = cluster.json<LearningShown>(['get', 'mr', ROUTE]).status?.learning;
      expect(now?.costUSD).toBeGreaterThan(0);
      expect(now?.shadowCalls).toBeGreaterThanOrEqual(200);
    }, 30_000);
    const wide = parseTable(cluster.must(['get', 'mr', '-n', cluster.namespace, '-o', 'wide']));
    expect(wide.find((r) => r.NAME === ROUTE)?.LEARNED).toMatch(
      /^v1 \d\.\d\d\/\d\.\d\d \(\d+ labels\)$/,
    );
    const events = cluster.json<{ items: { reason: string; message: string }[] }>([
      'get',
      'events',
      '--field-selector',
      `reason=ModelPromoted,involvedObject.name=${ROUTE}`,
    ]);
    expect(events.items[0]?.message).toMatch(/rule smart: model v1 promoted/);
    const stored = cluster.json<{ items: unknown[] }>([
      'get',
      'configmaps',
      '-l',
      `${LEARNING_LABEL}=v1`,
    ]);
    expect(stored.items).toHaveLength(1);

    // The model went out with the table: later prompts, never seen, are ordered by it.
    await eventually(
      async () =>
        expect((await ask(p1, examples[0]!.prompt)).headers.get('x-modelroute-model-version')).toBe(
          '1',
        ),
      30_000,
    );
    const later = examples.slice(TRAIN);
    const difficulties: number[] = [];
    for (const e of later) {
      const res = await ask(p1, e.prompt);
      expect(res.headers.get('x-modelroute-model-version')).toBe('1');
      difficulties.push(Number(res.headers.get('x-modelroute-difficulty')));
    }
    const prior = shippedDifficultyModel();
    const priorApgr = apgr(
      later.map((e) => prior.score(e.prompt)),
      later,
    );
    const adaptedApgr = apgr(difficulties, later);
    expect(priorApgr).toBeLessThan(0.4);
    expect(adaptedApgr - priorApgr).toBeGreaterThan(0.3);

    // A restarted controller reads the model and its labels back; a proxy that starts now is sent it.
    const before = cluster.json<LearningShown>(['get', 'mr', ROUTE]).status?.learning;
    await controller!.close();
    controller = undefined;
    controller = await startLeading('learning-2');
    const p2 = await proxyAt('127.0.0.18', 'proxy-learning-2');
    await eventually(
      async () =>
        expect((await ask(p2, examples[1]!.prompt)).headers.get('x-modelroute-model-version')).toBe(
          String(before?.modelVersion),
        ),
      30_000,
    );
    await eventually(() => {
      const again = cluster.json<LearningShown>(['get', 'mr', ROUTE]).status?.learning;
      expect(again?.modelVersion).toBe(before?.modelVersion);
      expect(again?.labels).toBeGreaterThanOrEqual(before?.labels ?? Infinity);
    }, 30_000);
  },
  CASE_TIMEOUT_MS,
);
