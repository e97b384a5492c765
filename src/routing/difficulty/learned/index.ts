// The learned difficulty router: the model shipped with this version, and the
// scorer a proxy starts with (the heuristic if the shipped file is refused).
import { scoreDifficulty as heuristicDifficulty } from '../heuristic.js';
import type { DifficultyScorer } from '../types.js';
import { DifficultyModelError, loadDifficultyModel, type DifficultyModel } from './model.js';

export { DifficultyModelError, difficultyModelFromJson, loadDifficultyModel } from './model.js';
export type { DifficultyModel, DifficultyModelFile } from './model.js';

/**
 * The shipped weights. They sit beside this module in src/ and dist/ (the
 * build copies them; tsc does not copy JSON it does not import), so the npm
 * package and the image carry them and nothing is downloaded.
 */
export const SHIPPED_MODEL_URL = new URL('./model-v1.json', import.meta.url);

let shipped: DifficultyModel | undefined;

/** The shipped model, loaded and validated once; throws DifficultyModelError if the file is bad. */
export function shippedDifficultyModel(): DifficultyModel {
  shipped ??= loadDifficultyModel(SHIPPED_MODEL_URL);
  return shipped;
}

/**
 * The scorer a proxy starts with: the shipped model, or, if its file is
 * refused, the heuristic (and `onRefused` hears why), so a bad file never
 * takes routing down.
 */
export function shippedDifficultyScorer(onRefused: (error: string) => void): DifficultyScorer {
  try {
    return shippedDifficultyModel().score;
  } catch (err) {
    if (!(err instanceof DifficultyModelError)) throw err;
    onRefused(err.message);
    return heuristicDifficulty;
  }
}
