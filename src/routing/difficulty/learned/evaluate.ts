// Held-out evaluation of a router recipe: k-fold by prompt, leave-groups-out
// (MMLU subjects) and train-on-one/test-on-another, each repeated over seeds,
// with the baselines scored on exactly the same test folds.
import { seededRandom } from '../../random.js';
import type { Example } from './dataset.js';
import { routerMetrics, randomRouterMetrics, type RouterMetrics } from './metrics.js';

/** Scores test prompts after seeing the training examples. */
export type RouterRecipe = (
  train: readonly Example[],
  test: readonly Example[],
  seed: number,
) => ArrayLike<number>;

export interface Split {
  seed: number;
  fold: number;
  train: Example[];
  test: Example[];
}

function shuffled<T>(items: readonly T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const k = Math.floor(rng() * (i + 1));
    [out[i], out[k]] = [out[k] as T, out[i] as T];
  }
  return out;
}

/** Assigns keys (in first-seen order) to k folds at random; all examples with one key share a fold. */
function splitByKey(
  examples: readonly Example[],
  key: (e: Example) => string,
  k: number,
  seed: number,
): Split[] {
  const keys = [...new Set(examples.map(key))];
  if (keys.length < k) throw new Error(`cannot make ${k} folds from ${keys.length} distinct keys`);
  const foldOf = new Map<string, number>();
  shuffled(keys, seededRandom(seed)).forEach((name, i) => foldOf.set(name, i % k));
  return Array.from({ length: k }, (_, fold) => ({
    seed,
    fold,
    train: examples.filter((e) => foldOf.get(key(e)) !== fold),
    test: examples.filter((e) => foldOf.get(key(e)) === fold),
  }));
}

/** k folds by prompt text (a prompt that appears twice never straddles train and test). */
export const kFoldByPrompt = (examples: readonly Example[], k: number, seed: number) =>
  splitByKey(examples, (e) => e.prompt, k, seed);

/** k folds by group (e.g. MMLU subject): test subjects are never seen in training. */
export const leaveGroupsOut = (examples: readonly Example[], k: number, seed: number) =>
  splitByKey(examples, (e) => e.group, k, seed);

export interface Summary {
  mean: number;
  sd: number;
  n: number;
}

export function summarize(values: readonly (number | null)[]): Summary {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const n = xs.length;
  const mean = n === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, sd, n };
}

export interface MetricSummary {
  apgr: Summary;
  cpt50: Summary;
  cpt80: Summary;
  strongShareFor95: Summary;
}

function summarizeMetrics(
  ms: readonly Pick<RouterMetrics, 'apgr' | 'cpt50' | 'cpt80' | 'strongShareFor95'>[],
): MetricSummary {
  return {
    apgr: summarize(ms.map((m) => m.apgr)),
    cpt50: summarize(ms.map((m) => m.cpt50)),
    cpt80: summarize(ms.map((m) => m.cpt80)),
    strongShareFor95: summarize(ms.map((m) => m.strongShareFor95)),
  };
}

/** Evaluates each recipe (and a seeded random router) on every split's test part. */
export function evaluateSplits(
  splits: readonly Split[],
  recipes: Readonly<Record<string, RouterRecipe>>,
): { splits: number; testSize: Summary; routers: Record<string, MetricSummary> } {
  const results: Record<string, RouterMetrics[]> = {};
  const random: ReturnType<typeof randomRouterMetrics>[] = [];
  for (const split of splits) {
    for (const [name, recipe] of Object.entries(recipes)) {
      const scores = recipe(split.train, split.test, split.seed);
      (results[name] ??= []).push(routerMetrics(scores, split.test));
    }
    random.push(
      randomRouterMetrics(split.test, seededRandom(1000 + split.seed * 31 + split.fold), 10),
    );
  }
  const routers: Record<string, MetricSummary> = {};
  for (const [name, ms] of Object.entries(results)) routers[name] = summarizeMetrics(ms);
  routers.random = summarizeMetrics(random);
  return { splits: splits.length, testSize: summarize(splits.map((s) => s.test.length)), routers };
}

/** A recipe variant a nested selection may pick, e.g. one set of training options. */
export interface RecipeCandidate {
  name: string;
  recipe: RouterRecipe;
}

/**
 * A recipe that chooses among candidates by inner cross-validation on the
 * training part alone (mean APGR over `innerSplits(train, seed)`), then
 * scores the test part with the chosen candidate trained on all of the
 * training part. The test part never influences the choice: what it measures
 * is the whole procedure, selection included. `onChoice` hears each pick.
 */
export function nestedRecipe(
  candidates: readonly RecipeCandidate[],
  innerSplits: (train: readonly Example[], seed: number) => Split[],
  onChoice: (name: string, innerApgr: number) => void = () => {},
): RouterRecipe {
  if (candidates.length === 0) throw new Error('nested selection needs at least one candidate');
  return (train, test, seed) => {
    const inner = innerSplits(train, seed);
    let best = candidates[0] as RecipeCandidate;
    let bestApgr = -Infinity;
    for (const candidate of candidates) {
      const apgrs = inner.map(
        (s) => routerMetrics(candidate.recipe(s.train, s.test, s.seed), s.test).apgr,
      );
      const mean = summarize(apgrs).mean;
      if (mean > bestApgr) {
        best = candidate;
        bestApgr = mean;
      }
    }
    onChoice(best.name, bestApgr);
    return best.recipe(train, test, seed);
  };
}
