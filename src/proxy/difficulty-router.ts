// The difficulty model a proxy scores prompts with, replaceable while it
// serves. The shipped model is the default; `--difficulty-model FILE` names
// another (say, one retrained on your own traffic with `modelroute router
// train`). That file is loaded at start, where a refused file stops the start
// like any bad flag, and then watched: a changed file that passes validation
// replaces the model between two requests; one that does not is logged and
// the previous model keeps scoring.
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { scoreDifficulty as heuristicDifficulty } from '../routing/difficulty/heuristic.js';
import {
  DifficultyModelError,
  loadDifficultyModel,
  shippedDifficultyModel,
  type DifficultyModel,
} from '../routing/difficulty/learned/index.js';
import type { DifficultyScorer } from '../routing/difficulty/types.js';

export interface DifficultyModelInfo {
  name: string;
  /** The file's sha256 checksum; null for a scorer that is not a model file (the heuristic). */
  checksum: string | null;
  /** Where it came from: a file path, "shipped", or "heuristic". */
  source: string;
}

const infoOf = (model: DifficultyModel, source: string): DifficultyModelInfo => ({
  name: model.name,
  checksum: model.checksum ?? null,
  source,
});

/** Scores features already extracted with extractFeaturesV2 (format-2 models). */
export type FeatureScorer = (features: ArrayLike<number>) => number;

export class DifficultyRouter {
  private scorer: DifficultyScorer;
  private info: DifficultyModelInfo;
  private features: FeatureScorer | undefined;

  constructor(scorer: DifficultyScorer, info: DifficultyModelInfo, features?: FeatureScorer) {
    this.scorer = scorer;
    this.info = info;
    this.features = features;
  }

  /** The current model's score of v2 features, when it is a format-2 model; else undefined. */
  get featureScorer(): FeatureScorer | undefined {
    return this.features;
  }

  /** Scores with whichever model is current; a stable function to hand out once. */
  readonly score: DifficultyScorer = (prompt) => this.scorer(prompt);

  get model(): DifficultyModelInfo {
    return this.info;
  }

  replace(model: DifficultyModel, source: string): void {
    this.scorer = model.score;
    this.features = model.scoreFeatures;
    this.info = infoOf(model, source);
  }
}

/**
 * The router a proxy starts with: the model file it was given (a refused
 * file throws DifficultyModelError: the start fails, saying why), else the
 * shipped model, else, if even that file is refused, the heuristic (and
 * `onShippedRefused` hears why), so a bad shipped file never takes routing down.
 */
export function initialDifficultyRouter(options: {
  /** A fixed scorer instead of any model (tests). */
  scorer?: DifficultyScorer | undefined;
  file?: string | undefined;
  onShippedRefused: (error: string) => void;
  loadFile?: (file: string) => DifficultyModel;
  loadShipped?: () => DifficultyModel;
}): DifficultyRouter {
  if (options.scorer)
    return new DifficultyRouter(options.scorer, {
      name: 'injected',
      checksum: null,
      source: 'injected',
    });
  if (options.file !== undefined) {
    const model = (options.loadFile ?? loadDifficultyModel)(options.file);
    return new DifficultyRouter(model.score, infoOf(model, options.file), model.scoreFeatures);
  }
  try {
    const model = (options.loadShipped ?? shippedDifficultyModel)();
    return new DifficultyRouter(model.score, infoOf(model, 'shipped'), model.scoreFeatures);
  } catch (err) {
    if (!(err instanceof DifficultyModelError)) throw err;
    options.onShippedRefused(err.message);
    return new DifficultyRouter(heuristicDifficulty, {
      name: 'heuristic',
      checksum: null,
      source: 'heuristic',
    });
  }
}

export interface ModelFileWatch {
  file: string;
  /** How often the file's metadata is polled (polling follows ConfigMap-style symlink swaps). */
  intervalMs: number;
  load?: (file: string) => DifficultyModel;
  onLoaded: (model: DifficultyModelInfo) => void;
  onRefused: (error: string) => void;
}

const unchanged = (a: Stats, b: Stats) =>
  a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;

/** Reloads the router's model whenever the file changes; returns the function that stops watching. */
export function watchDifficultyModelFile(
  router: DifficultyRouter,
  options: ModelFileWatch,
): () => void {
  const load = options.load ?? loadDifficultyModel;
  const listener = (current: Stats, previous: Stats): void => {
    if (unchanged(current, previous)) return;
    if (current.nlink === 0 && current.mtimeMs === 0) {
      options.onRefused(
        `${options.file}: the file is gone; still scoring with ${router.model.name}`,
      );
      return;
    }
    let model: DifficultyModel;
    try {
      model = load(options.file);
    } catch (err) {
      if (!(err instanceof DifficultyModelError)) throw err;
      options.onRefused(`${err.message}; still scoring with ${router.model.name}`);
      return;
    }
    if (model.checksum !== undefined && model.checksum === router.model.checksum) return;
    router.replace(model, options.file);
    options.onLoaded(router.model);
  };
  watchFile(options.file, { interval: options.intervalMs, persistent: false }, listener);
  return () => unwatchFile(options.file, listener);
}
