// Learning in local mode (issue 17): the controller's LearningCoordinator, run
// in-process over the one proxy's labels. Every interval it takes the new
// labels from the proxy's outbox (the same cursor the controller uses),
// retrains when due, and when a rule's model changes the table is compiled
// again with it. No cluster, so nothing is stored: a restart starts from the
// prior, and promotions are logged instead of recorded as Events.
import type { ModelRoute } from '../../api/v1alpha1/index.js';
import { LearningCoordinator } from '../../controller/learning-coordinator.js';
import type { LearnerFactory } from '../../controller/rule-learning-record.js';
import type { ProxyLearningStats } from '../../learning/wire.js';
import type { LearnedModel } from '../../routing/compile.js';
import type { Logger } from '../../telemetry/logger.js';

const POD = 'local';

export interface LocalLearningOptions {
  routes: readonly ModelRoute[];
  /** The proxy's learning stats after a cursor (what /admin/v1/stats?labelsAfter= answers). */
  read: (labelsAfter: string | undefined) => ProxyLearningStats;
  factory: LearnerFactory;
  now: () => number;
  logger: Logger;
  /** Told the models to serve whenever a rule's model changes. */
  onModels: (models: ReadonlyMap<string, LearnedModel>) => void;
  intervalMs?: number;
}

export interface LocalLearning {
  /** One round now: read, learn, maybe swap models (the timer calls it too). */
  tick(): void;
  models(): ReadonlyMap<string, LearnedModel>;
  stop(): void;
}

const versionsOf = (models: ReadonlyMap<string, LearnedModel>): string =>
  [...models].map(([rule, m]) => `${rule}=${m.version}`).join(',');

export function startLocalLearning(options: LocalLearningOptions): LocalLearning {
  const { logger } = options;
  const coordinator = new LearningCoordinator({
    factory: options.factory,
    routes: () => [...options.routes],
    now: options.now,
    logger,
    recordEvent: (event) =>
      logger.info('learning: model promoted', {
        route: `${event.involved.namespace}/${event.involved.name}`,
        message: event.message,
      }),
    enqueue: () => {},
  });
  coordinator.start();
  let served = '';
  const tick = (): void => {
    const learning = options.read(coordinator.labelsAfter(POD));
    coordinator.onStats({
      stats: new Map([
        [POD, { tableVersion: null, backends: [], routes: [], calibration: [], learning }],
      ]),
      pods: [POD],
    });
    const models = coordinator.learnedModels();
    const versions = versionsOf(models);
    if (versions !== served) {
      served = versions;
      options.onModels(models);
    }
  };
  const timer = setInterval(() => {
    try {
      tick();
    } catch (err) {
      logger.error('local learning failed; the models in use stay', { error: err });
    }
  }, options.intervalMs ?? 2_000);
  timer.unref();
  return {
    tick,
    models: () => coordinator.learnedModels(),
    stop: () => {
      clearInterval(timer);
      void coordinator.stop();
    },
  };
}
