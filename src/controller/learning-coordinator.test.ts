import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { modelRoute, type ModelRoute } from '../api/v1alpha1/index.js';
import {
  LEARNING_FEATURE_COUNT,
  type LabelledVector,
  type ProxyLearningStats,
  type RuleLearningCounters,
} from '../learning/wire.js';
import type { LearnedModel } from '../routing/compile.js';
import { SHIPPED_MODEL_URL } from '../routing/difficulty/learned/index.js';
import type { DifficultyModelFileV2 } from '../routing/difficulty/learned/model.js';
import { createLogger } from '../telemetry/logger.js';
import { FakeKubeClient } from './__fixtures__/fake-kube-client.js';
import type { EventToRecord } from './event-recorder.js';
import { LearningCoordinator } from './learning-coordinator.js';
import { LearningStore, learningConfigMapName, learningConfigMaps } from './learning-store.js';
import type { ProxyStats } from './proxy-fleet.js';
import {
  ZERO_COUNTERS,
  type LearnerFactory,
  type LearnerSettings,
  type RuleLearnerPort,
} from './rule-learning-record.js';

const FILE = JSON.parse(readFileSync(SHIPPED_MODEL_URL, 'utf8')) as DifficultyModelFileV2;
const RULE = 'team/chat#smart';

/** Promotes a new version every `every` new labels; its state is its labels count and versions. */
class StepLearner implements RuleLearnerPort {
  labels = 0;
  private fresh = 0;
  versions: number[] = [];
  constructor(
    private readonly settings: LearnerSettings,
    state?: { labels: number; versions: number[] },
  ) {
    if (state) {
      this.labels = state.labels;
      this.versions = state.versions;
    }
  }
  add(labels: readonly LabelledVector[]): void {
    this.labels += labels.length;
    this.fresh += labels.length;
  }
  due(): boolean {
    return this.labels >= this.settings.minLabels && this.fresh >= 3;
  }
  retrain() {
    this.fresh = 0;
    const version = this.versions.length + 1;
    this.versions.push(version);
    return {
      promoted: true,
      version,
      heldOut: { labels: 4, champion: 0.55, challenger: 0.61, prior: 0.55 },
      reason: `challenger v${version} beat the champion: +0.06 [+0.01, +0.11]`,
    };
  }
  private model(v: number): LearnedModel {
    return { version: v, file: FILE };
  }
  champion(): LearnedModel | undefined {
    const v = this.versions.at(-1);
    return v === undefined ? undefined : this.model(v);
  }
  version(v: number): LearnedModel | undefined {
    return this.versions.includes(v) ? this.model(v) : undefined;
  }
  summary() {
    const latestVersion = this.versions.at(-1) ?? 0;
    return {
      labels: this.labels,
      labelsTotal: this.labels,
      promotions: this.versions.length,
      latestVersion,
    };
  }
  toState() {
    return { labels: this.labels, versions: this.versions };
  }
}

const factory: LearnerFactory = {
  create: (_rule, settings) => new StepLearner(settings),
  restore: (_rule, state, settings) => {
    const s = state as { labels?: unknown; versions?: unknown };
    if (typeof s.labels !== 'number' || !Array.isArray(s.versions))
      throw new Error('not a StepLearner state');
    return new StepLearner(settings, { labels: s.labels, versions: s.versions as number[] });
  },
};

function route(learning: Record<string, unknown> = { minLabels: 20 }): ModelRoute {
  return modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'chat', namespace: 'team', generation: 1, uid: 'u1' },
    spec: {
      model: 'chat',
      rules: [
        {
          name: 'smart',
          strategy: 'cost-quality',
          costQuality: { strongShare: 0.2, learning },
          backendRefs: [{ name: 'cheap' }, { name: 'strong' }],
        },
      ],
    },
  });
}

const label = (seq: number): LabelledVector => ({
  seq,
  rule: RULE,
  modelVersion: 0,
  features: new Array<number>(LEARNING_FEATURE_COUNT).fill(0.5),
  outcome: { kind: 'pairwise', gain: 1 },
  atMs: 1,
});

function stats(learning: ProxyLearningStats): ProxyStats {
  return { tableVersion: 'v', backends: [], routes: [], calibration: [], learning };
}

const counters = (over: Partial<RuleLearningCounters>): RuleLearningCounters => ({
  ...ZERO_COUNTERS,
  ...over,
});

function learningStats(
  epoch: string,
  seqs: number[],
  ruleCounters?: Partial<RuleLearningCounters>,
): ProxyLearningStats {
  return {
    epoch,
    nextSeq: (seqs.at(-1) ?? -1) + 1,
    labels: seqs.map(label),
    droppedLabels: 0,
    rules: ruleCounters ? { [RULE]: counters(ruleCounters) } : {},
  };
}

function setup(routes: () => ModelRoute[], client = new FakeKubeClient()) {
  const events: EventToRecord[] = [];
  const enqueued: string[] = [];
  let now = Date.UTC(2026, 11, 4, 12);
  const coordinator = new LearningCoordinator({
    store: new LearningStore({ client, namespace: 'modelroute-system', logger: createLogger() }),
    factory,
    routes,
    now: () => now,
    logger: createLogger(),
    recordEvent: (e) => events.push(e),
    enqueue: (ns) => enqueued.push(ns),
    flushIntervalMs: 0,
    statusIntervalMs: 0,
  });
  return {
    client,
    coordinator,
    events,
    enqueued,
    advance: (ms: number) => (now += ms),
  };
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('LearningCoordinator', () => {
  it('takes each label once, promotes, records an Event and serves the new version', async () => {
    const r = route();
    const { coordinator, events, enqueued } = setup(() => [r]);
    coordinator.start();
    await until(() => coordinator.labelsAfter('team/p1') === undefined && enqueued.length > 0);
    const seqs = Array.from({ length: 20 }, (_, i) => i);
    // A proxy with no label yet: no cursor (a seq of -1 is not one).
    coordinator.onStats({
      stats: new Map([['team/p1', stats(learningStats('e1', []))]]),
      pods: ['team/p1'],
    });
    expect(coordinator.labelsAfter('team/p1')).toBeUndefined();
    coordinator.onStats({
      stats: new Map([['team/p1', stats(learningStats('e1', seqs))]]),
      pods: ['team/p1'],
    });
    expect(coordinator.labelsAfter('team/p1')).toBe('e1:19');
    // The same labels again (a reader that lost its cursor): counted once.
    coordinator.onStats({
      stats: new Map([['team/p1', stats(learningStats('e1', seqs))]]),
      pods: ['team/p1'],
    });
    const status = coordinator.status(r);
    expect(status).toMatchObject({ rule: 'smart', labels: 20, modelVersion: 1, promotions: 1 });
    expect(status?.model).toBe('v1 0.61/0.55 (20 labels)');
    expect(coordinator.learnedModels().get(RULE)?.version).toBe(1);
    expect(events).toEqual([
      expect.objectContaining({
        reason: 'ModelPromoted',
        type: 'Normal',
        message: expect.stringContaining('rule smart: model v1 promoted'),
      }),
    ]);
    expect(enqueued).toContain('team');
    coordinator.stop();
  });

  it('sums the cost of learning as deltas per proxy process, a new process from zero', async () => {
    const r = route();
    const { coordinator } = setup(() => [r]);
    coordinator.start();
    await until(() => coordinator.status(r) !== undefined);
    const collect = (epoch: string, cost: number, shadowCalls: number) =>
      coordinator.onStats({
        stats: new Map([
          ['team/p1', stats(learningStats(epoch, [], { costUsd: cost, shadowCalls }))],
        ]),
        pods: ['team/p1'],
      });
    collect('e1', 0.5, 5);
    collect('e1', 0.75, 7);
    collect('e2', 0.1, 1); // the proxy restarted: its counters began again
    expect(coordinator.status(r)).toMatchObject({ costUSD: 0.85, shadowCalls: 8 });
  });

  it('keeps the model, the labels taken and the cost across a restart (a new leader counts nothing twice)', async () => {
    const r = route();
    const first = setup(() => [r]);
    first.coordinator.start();
    await until(() => first.coordinator.status(r) !== undefined);
    const seqs = Array.from({ length: 25 }, (_, i) => i);
    const once = stats(learningStats('e1', seqs, { costUsd: 0.2 }));
    first.coordinator.onStats({ stats: new Map([['team/p1', once]]), pods: ['team/p1'] });
    await first.coordinator.flushNow();
    first.coordinator.stop();
    expect(
      await first.client.get(learningConfigMaps, {
        namespace: 'modelroute-system',
        name: learningConfigMapName(RULE),
      }),
    ).toBeDefined();

    const second = setup(() => [r], first.client);
    second.coordinator.start();
    await until(() => second.coordinator.status(r) !== undefined);
    // The new leader has no cursor: the proxy sends every label it keeps again.
    second.coordinator.onStats({ stats: new Map([['team/p1', once]]), pods: ['team/p1'] });
    expect(second.coordinator.status(r)).toMatchObject({
      labels: 25,
      costUSD: 0.2,
      modelVersion: 1,
    });
    expect(second.coordinator.learnedModels().get(RULE)?.version).toBe(1);
  });

  it('serves a pinned version, the prior for 0, and says so when the pinned version is not kept', async () => {
    let r = route();
    const { coordinator } = setup(() => [r]);
    coordinator.start();
    await until(() => coordinator.status(r) !== undefined);
    const seqs = (from: number) => Array.from({ length: 20 }, (_, i) => from + i);
    coordinator.onStats({
      stats: new Map([['team/p1', stats(learningStats('e1', seqs(0)))]]),
      pods: ['team/p1'],
    });
    coordinator.onStats({
      stats: new Map([['team/p1', stats(learningStats('e1', seqs(20)))]]),
      pods: ['team/p1'],
    });
    expect(coordinator.learnedModels().get(RULE)?.version).toBe(2);

    r = route({ minLabels: 20, pinnedVersion: 1 });
    expect(coordinator.learnedModels().get(RULE)?.version).toBe(1);
    expect(coordinator.status(r)).toMatchObject({ modelVersion: 1, pinned: true });
    // Pinned: no promotions however many labels come.
    coordinator.onStats({
      stats: new Map([['team/p1', stats(learningStats('e1', seqs(40)))]]),
      pods: ['team/p1'],
    });
    expect(coordinator.status(r)).toMatchObject({ latestVersion: 2 });

    r = route({ minLabels: 20, pinnedVersion: 0 });
    expect(coordinator.learnedModels().has(RULE)).toBe(false);
    expect(coordinator.status(r)?.model).toMatch(/^prior pinned/);

    r = route({ minLabels: 20, pinnedVersion: 9 });
    expect(coordinator.learnedModels().get(RULE)?.version).toBe(2);
    expect(coordinator.status(r)?.lastDecision).toMatch(/pinnedVersion 9 is not kept; serving v2/);
  });

  it('has no status for a route without a learning rule, and reads nothing before its state is loaded', () => {
    const plain = modelRoute.parse({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'plain', namespace: 'team' },
      spec: { model: 'plain', rules: [{ name: 'main', backendRefs: [{ name: 'a' }] }] },
    });
    const client = new FakeKubeClient();
    client.failNext('list', new Error('apiserver away'));
    const { coordinator } = setup(() => [plain, route()], client);
    coordinator.start();
    expect(coordinator.status(plain)).toBeNull();
    expect(coordinator.status(route())).toBeUndefined();
    coordinator.onStats({
      stats: new Map([['team/p1', stats(learningStats('e1', [0, 1]))]]),
      pods: ['team/p1'],
    });
    expect(coordinator.labelsAfter('team/p1')).toBeUndefined();
    coordinator.stop();
  });
});
