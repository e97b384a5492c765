// The learned difficulty router: the model shipped with this version.
import { loadDifficultyModel, type DifficultyModel } from './model.js';

export { DifficultyModelError, difficultyModelFromJson, loadDifficultyModel } from './model.js';
export type {
  AnyDifficultyModelFile,
  DifficultyModel,
  DifficultyModelFile,
  DifficultyModelFileV2,
} from './model.js';

/**
 * The shipped weights: model v2 (task-kind features, recipe chosen by
 * leave-one-domain-out; see train-v2.ts). model-v1.json stays beside it for
 * users who pass it with `--difficulty-model`. They sit beside this module in src/ and dist/ (the
 * build copies them; tsc does not copy JSON it does not import), so the npm
 * package and the image carry them and nothing is downloaded.
 */
export const SHIPPED_MODEL_URL = new URL('./model-v2.json', import.meta.url);

let shipped: DifficultyModel | undefined;

/** The shipped model, loaded and validated once; throws DifficultyModelError if the file is bad. */
export function shippedDifficultyModel(): DifficultyModel {
  shipped ??= loadDifficultyModel(SHIPPED_MODEL_URL);
  return shipped;
}
