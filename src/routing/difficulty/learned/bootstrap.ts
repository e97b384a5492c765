// Bootstrap intervals for router quality (APGR): how far a figure could move
// on another sample of the same kind of prompts. Routers are compared PAIRED,
// on the same resampled prompts, so the interval of a difference excludes the
// prompt-to-prompt noise both routers share (a 0.02 lead over the length rule
// on 1,300 GSM8K prompts is real only if it holds across resamples).
//
// Several sets are pooled as the MEAN of their APGRs, resampled within each
// set (stratified), never as one APGR over the concatenated sets: APGR ranks
// prompts, so a router that merely tells the sets apart (all of one set
// harder than all of the other) would earn credit for ordering between sets
// that no threshold on one route's traffic ever uses.
import type { Example } from './dataset.js';
import { mean, quantileSorted, routerMetrics } from './metrics.js';
import { randomRanking, rankScores, resampledApgr } from './resampled-apgr.js';

type Labelled = Pick<Example, 'weak' | 'strong'>;

/**
 * A router's scores on a set's prompts (scores[i] belongs to examples[i]), or
 * `random`: a uniformly random ranking drawn afresh for every resample, so a
 * random router's own ranking noise counts in its intervals.
 */
export type RouterScores = ArrayLike<number> | 'random';

export interface BootstrapSet {
  name: string;
  examples: readonly Labelled[];
  /** Every set names the same routers. */
  routers: Readonly<Record<string, RouterScores>>;
}

export interface BootstrapOptions {
  /** Resamples of the prompts (default 1,000). */
  resamples?: number;
  rng: () => number;
}

/** A figure with its bootstrap interval: `point` on the data as given, `mean` over resamples. */
export interface Estimate {
  point: number;
  mean: number;
  lo: number;
  hi: number;
}

export interface Bootstrap {
  sets: string[];
  routers: string[];
  /** Resamples where every router's APGR was defined on every set (those are the ones kept). */
  resamples: number;
  /** Resamples dropped because the strong model was no better than the weak one on one set's resample. */
  skipped: number;
  /** APGR on the data as given, per router and set (`random`: mean over resamples). */
  point: Record<string, number[]>;
  /** APGR per router, set and kept resample. */
  draws: Record<string, Float64Array[]>;
}

export const DEFAULT_RESAMPLES = 1000;
/** 95%: the 2.5th and 97.5th percentiles of the resampled figures. */
const TAILS = [0.025, 0.975] as const;

function checkSets(sets: readonly BootstrapSet[]): string[] {
  if (sets.length === 0) throw new Error('bootstrap: no sets to resample');
  const routers = Object.keys(sets[0]?.routers ?? {});
  if (routers.length === 0) throw new Error('bootstrap: no routers to score');
  for (const set of sets) {
    const names = Object.keys(set.routers);
    if (names.length !== routers.length || names.some((r) => !routers.includes(r)))
      throw new Error(
        `bootstrap: set ${set.name} has routers ${names.join(', ')}; every set needs ${routers.join(', ')}`,
      );
    if (set.name === POOLED)
      throw new Error(
        `bootstrap: a set may not be named ${POOLED} (that name is the mean over sets)`,
      );
    if (set.examples.length === 0) throw new Error(`bootstrap: set ${set.name} has no examples`);
    for (const [name, router] of Object.entries(set.routers))
      if (router !== 'random' && router.length !== set.examples.length)
        throw new Error(
          `bootstrap: router ${name} has ${router.length} scores for the ${set.examples.length} examples of set ${set.name}`,
        );
  }
  return routers;
}

function apgrOrThrow(scores: ArrayLike<number>, set: BootstrapSet): number {
  const m = routerMetrics(scores, set.examples);
  if (m.apgr === null)
    throw new Error(
      `bootstrap: APGR is undefined on set ${set.name}: the strong model (${m.strongQuality.toFixed(3)}) is no better than the weak one (${m.weakQuality.toFixed(3)}); leave the set out`,
    );
  return m.apgr;
}

/**
 * Resamples every set's prompts with replacement, independently per set, and
 * scores every router on each resample (`random` ranks each resample afresh).
 */
export function bootstrapApgr(sets: readonly BootstrapSet[], options: BootstrapOptions): Bootstrap {
  const routers = checkSets(sets);
  const total = options.resamples ?? DEFAULT_RESAMPLES;
  if (!Number.isInteger(total) || total < 1)
    throw new Error(`bootstrap: resamples must be a positive integer, got ${total}`);
  const { rng } = options;
  // Fixed routers' figures on the data as given first: a set with no gap fails before any work.
  const fixed = new Map<string, number[]>();
  for (const r of routers)
    if (sets.every((set) => set.routers[r] !== 'random'))
      fixed.set(
        r,
        sets.map((set) => apgrOrThrow(set.routers[r] as ArrayLike<number>, set)),
      );
  const draws = new Map<string, number[][]>(routers.map((r) => [r, sets.map(() => [])]));
  // Fixed routers are ranked once per set; a resample is then a weighted walk (resampled-apgr.ts).
  const ranked = sets.map((set) =>
    routers.map((r) => {
      const router = set.routers[r] as RouterScores;
      return router === 'random' ? null : rankScores(router);
    }),
  );
  let skipped = 0;
  for (let b = 0; b < total; b++) {
    // round[s][k]: router k's APGR on set s's resample.
    const round = sets.map((set, s) => {
      const n = set.examples.length;
      const weights = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const j = Math.floor(rng() * n);
        weights[j] = (weights[j] as number) + 1;
      }
      return routers.map((r, k) => {
        const rank = ranked[s]?.[k] ?? randomRanking(n, rng);
        return resampledApgr(rank, set.examples, weights);
      });
    });
    if (round.some((perRouter) => perRouter.includes(null))) {
      skipped++;
      continue;
    }
    routers.forEach((r, k) => {
      const perSet = draws.get(r) as number[][];
      round.forEach((perRouter, s) => perSet[s]?.push(perRouter[k] as number));
    });
  }
  const kept = (r: string) => (draws.get(r) as number[][]).map((xs) => Float64Array.from(xs));
  return {
    sets: sets.map((s) => s.name),
    routers,
    resamples: total - skipped,
    skipped,
    point: Object.fromEntries(
      routers.map((r) => [r, fixed.get(r) ?? kept(r).map((xs) => mean(xs))]),
    ),
    draws: Object.fromEntries(routers.map((r) => [r, kept(r)])),
  };
}

function estimate(point: number, values: Float64Array): Estimate {
  const sorted = Float64Array.from(values).sort();
  return {
    point,
    mean: mean(values),
    lo: quantileSorted(sorted, TAILS[0]),
    hi: quantileSorted(sorted, TAILS[1]),
  };
}

/** The scope of the mean over all sets (no set may take this name). */
export const POOLED = 'pooled';

/** Which figure: one set by its name, or POOLED for the mean over all sets. */
export type Scope = string;

function figure(
  b: Bootstrap,
  router: string,
  scope: Scope,
): { point: number; draws: Float64Array } {
  const perSet = b.draws[router];
  const points = b.point[router];
  if (!perSet || !points)
    throw new Error(`bootstrap: no router ${router} (routers: ${b.routers.join(', ')})`);
  if (scope === POOLED) {
    const pooled = Float64Array.from({ length: b.resamples }, (_, i) =>
      mean(perSet.map((xs) => xs[i] as number)),
    );
    return { point: mean(points), draws: pooled };
  }
  const s = b.sets.indexOf(scope);
  if (s < 0) throw new Error(`bootstrap: no set ${scope} (sets: ${b.sets.join(', ')})`);
  return { point: points[s] as number, draws: perSet[s] as Float64Array };
}

/** One router's APGR with its 95% interval, on one set or pooled (mean over sets). */
export function apgrEstimate(b: Bootstrap, router: string, scope: Scope = POOLED): Estimate {
  const f = figure(b, router, scope);
  return estimate(f.point, f.draws);
}

/** APGR of router `a` minus router `b` on the same resamples, with its 95% interval. */
export function apgrDifference(
  b: Bootstrap,
  a: string,
  baseline: string,
  scope: Scope = POOLED,
): Estimate {
  const fa = figure(b, a, scope);
  const fb = figure(b, baseline, scope);
  return estimate(
    fa.point - fb.point,
    fa.draws.map((x, i) => x - (fb.draws[i] as number)),
  );
}

/**
 * A random router's APGR on each set as given (no resampling): its mean and
 * 95% band over `draws` random rankings, per set and pooled. A router inside
 * the band ranks that set no better than chance.
 */
export function randomBand(
  sets: readonly Pick<BootstrapSet, 'name' | 'examples'>[],
  draws: number,
  rng: () => number,
): { sets: Record<string, Estimate>; pooled: Estimate } {
  if (!Number.isInteger(draws) || draws < 1)
    throw new Error(`randomBand: draws must be a positive integer, got ${draws}`);
  const perSet = sets.map((set) => {
    const ones = new Uint32Array(set.examples.length).fill(1);
    const xs = new Float64Array(draws);
    for (let d = 0; d < draws; d++) {
      const apgr = resampledApgr(randomRanking(set.examples.length, rng), set.examples, ones);
      if (apgr === null)
        throw new Error(
          `randomBand: APGR is undefined on set ${set.name}: the strong model is no better than the weak one`,
        );
      xs[d] = apgr;
    }
    return xs;
  });
  const pooled = Float64Array.from({ length: draws }, (_, d) =>
    mean(perSet.map((xs) => xs[d] as number)),
  );
  return {
    sets: Object.fromEntries(
      sets.map((set, s) => [
        set.name,
        estimate(mean(perSet[s] as Float64Array), perSet[s] as Float64Array),
      ]),
    ),
    pooled: estimate(mean(pooled), pooled),
  };
}
