// The learned difficulty router: the model shipped with this version.
import { loadDifficultyModel, type DifficultyModel } from './model.js';

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
