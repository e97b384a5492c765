// Prompt difficulty scoring for cost-quality routing and difficulty matches.
export type { DifficultyScorer } from './types.js';
export {
  DIFFICULTY_WEIGHTS,
  difficultySignals,
  scoreDifficulty,
  scoreSignals,
} from './heuristic.js';
export type { DifficultySignals } from './heuristic.js';
