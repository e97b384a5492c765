// `modelroute router replay`: labelled prompts, in seeded random order,
// through the StrongShareCalibrator the proxy runs (the class itself, not a
// copy), to see what a route's strongShare would give on that traffic.
import {
  replayStrongShare,
  shuffledStream,
} from '../routing/difficulty/calibration/share-replay.js';
import { StrongShareCalibrator } from '../routing/difficulty/calibration/strong-share-calibrator.js';
import type { Example } from '../routing/difficulty/learned/dataset.js';
import type { DifficultyModel } from '../routing/difficulty/learned/model.js';
import { strongShareThreshold } from '../routing/compile.js';
import { seededRandom } from '../routing/random.js';
import type { CommandIO } from './validate.js';

export interface ReplaySettings {
  targetStrongShare: number;
  seed: number;
  warmup: number;
  window: number;
  /** Stream length; default one shuffled pass over the prompts. */
  requests: number | undefined;
  excluded: number;
  json: boolean;
}

export function replayCommand(
  io: CommandIO,
  model: DifficultyModel,
  examples: readonly Example[],
  settings: ReplaySettings,
): number {
  const { targetStrongShare, warmup, window } = settings;
  const scored = examples.map((e) => ({
    score: model.score(e.prompt),
    weak: e.weak,
    strong: e.strong,
  }));
  const stream = shuffledStream(
    scored,
    seededRandom(settings.seed),
    settings.requests ?? scored.length,
  );
  // A fresh proxy: the table's threshold is the model calibration's prior.
  const calibrator = new StrongShareCalibrator({
    targetStrongShare,
    fleetThreshold: strongShareThreshold(targetStrongShare),
  });
  const result = replayStrongShare(stream, calibrator, { targetStrongShare, warmup, window });
  if (result.windows === 0)
    io.err(
      `router replay: ${stream.length} requests leave no full ${window}-request window after a warm-up of ${warmup}: max_window_error is null (--requests ${warmup + window} or more replays the prompts in further shuffled passes)`,
    );
  const report = { model: model.name, seed: settings.seed, excluded: settings.excluded, ...result };
  if (settings.json) {
    io.out(JSON.stringify(report));
    return 0;
  }
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  io.out(
    `${report.model}, strongShare ${pct(targetStrongShare)}, ${report.n} requests (seed ${report.seed}, ${settings.excluded} prompts excluded)`,
  );
  io.out(
    `after ${warmup} requests of warm-up: ${pct(report.realized_strong_share)} went strong; worst ${window}-request window off by ${pct(report.max_window_error)} (${report.windows} windows)`,
  );
  io.out(
    `quality ${report.quality} (best fixed split of the same prompts at that share: ${report.offline_quality_at_share}; weak ${report.weak_quality}, strong ${report.strong_quality}); APGR of the scores ${report.apgr}`,
  );
  return 0;
}
