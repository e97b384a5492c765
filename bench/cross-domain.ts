// The cross-domain evaluation the router table leads with: how a router does
// on a kind of traffic it never trained on, with paired bootstrap intervals
// against the baselines on the same prompts (bootstrap.ts).
//
// - leave one domain out (domains.ts): train on four domains, test on the
//   fifth; pooled as the mean of the five per-domain APGRs;
// - across the data sets: train on MMLU, test on GSM8K, and the reverse (MMLU
//   as the mean of its four domains, for the same reason);
// - in-sample beside held-out: the same recipe trained on everything and
//   scored on each domain, and the shipped model (trained on all of this
//   data): a large in-sample lead over held-out is memorisation.
import { scoreDifficulty as heuristic } from '../src/routing/difficulty/heuristic.js';
import {
  apgrDifference,
  apgrEstimate,
  bootstrapApgr,
  POOLED,
  randomBand,
  type Bootstrap,
  type BootstrapSet,
  type Estimate,
  type RouterScores,
} from '../src/routing/difficulty/learned/bootstrap.js';
import type { Example } from '../src/routing/difficulty/learned/dataset.js';
import { byDomain, leaveOneDomainOut } from '../src/routing/difficulty/learned/domains.js';
import { routerMetrics } from '../src/routing/difficulty/learned/metrics.js';
import { summarize, type Summary } from '../src/routing/difficulty/learned/evaluate.js';
import { seededRandom } from '../src/routing/random.js';

/** Scores prompts; what a recipe trains and what ships. */
export interface Scorer {
  score(prompt: string): number;
}

export interface CrossDomainOptions {
  /** Trains the learned router (the shipped recipe) on a training part. */
  train: (train: readonly Example[], seed: number) => Scorer;
  /** The model that ships, scored in-sample (it was trained on this data). */
  shipped: Scorer;
  /** The first seed trains the models the intervals are about; every seed gives a point figure (training noise). */
  seeds: readonly number[];
  resamples: number;
  /** Seeds the resampling and the random router. */
  rngSeed: number;
}

/** One router's APGR with 95% CI; `random` is its band (random rankings of the set as given). */
export interface ScopeReport {
  n: number;
  learned: Estimate;
  length: Estimate;
  heuristic: Estimate;
  random: Estimate;
  /** Paired differences, learned minus each baseline, on the same resampled prompts. */
  vs: { length: Estimate; heuristic: Estimate; random: Estimate };
  /** The learned point figure over the training seeds: how much training noise moves it. */
  learnedOverSeeds: Summary;
}

export interface ProtocolReport {
  protocol: string;
  /** Per test domain, then `pooled`: the mean over the domains. */
  scopes: Record<string, ScopeReport>;
  resamples: number;
}

export interface InSampleRow {
  n: number;
  heldOut: Estimate;
  inSample: Estimate;
  /** inSample − heldOut on the same resamples: memorisation when clearly above 0. */
  gap: Estimate;
  shipped: Estimate;
}

const baselines = (test: readonly Example[]): Record<string, RouterScores> => ({
  length: Float64Array.from(test, (e) => e.prompt.length),
  heuristic: Float64Array.from(test, (e) => heuristic(e.prompt)),
  random: 'random',
});

const scored = (model: Scorer, test: readonly Example[]) =>
  Float64Array.from(test, (e) => model.score(e.prompt));

/** Test sets for one protocol: each with the learned model trained for it (first seed). */
interface TestSet {
  name: string;
  examples: Example[];
  /** Trains the learned model this set is scored with. */
  train: Example[];
}

function scopeReports(
  b: Bootstrap,
  band: ReturnType<typeof randomBand>,
  sets: readonly TestSet[],
  overSeeds: Map<string, number[]>,
): Record<string, ScopeReport> {
  const scopes = [...sets.map((s) => s.name), POOLED];
  return Object.fromEntries(
    scopes.map((scope) => {
      const n =
        scope === POOLED
          ? sets.reduce((a, s) => a + s.examples.length, 0)
          : (sets.find((s) => s.name === scope)?.examples.length ?? 0);
      return [
        scope,
        {
          n,
          learned: apgrEstimate(b, 'learned', scope),
          length: apgrEstimate(b, 'length', scope),
          heuristic: apgrEstimate(b, 'heuristic', scope),
          random: (scope === POOLED ? band.pooled : band.sets[scope]) as Estimate,
          vs: {
            length: apgrDifference(b, 'learned', 'length', scope),
            heuristic: apgrDifference(b, 'learned', 'heuristic', scope),
            random: apgrDifference(b, 'learned', 'random', scope),
          },
          learnedOverSeeds: summarize(overSeeds.get(scope) ?? []),
        },
      ];
    }),
  );
}

/**
 * Trains once per distinct training part and seed, scores each test set, and
 * bootstraps all routers on the same resamples. `extra` adds routers scored
 * on the same sets (the in-sample ones).
 */
function evaluateProtocol(
  protocol: string,
  sets: readonly TestSet[],
  options: CrossDomainOptions,
  extra: (set: TestSet) => Record<string, RouterScores> = () => ({}),
): { report: ProtocolReport; bootstrap: Bootstrap } {
  const models = new Map<Example[], Map<number, Scorer>>();
  const model = (train: Example[], seed: number) => {
    let bySeed = models.get(train);
    if (!bySeed) models.set(train, (bySeed = new Map<number, Scorer>()));
    let m = bySeed.get(seed);
    if (!m) bySeed.set(seed, (m = options.train(train, seed)));
    return m;
  };
  const [first, ...rest] = options.seeds;
  if (first === undefined) throw new Error('cross-domain evaluation needs at least one seed');
  const bootSets: BootstrapSet[] = sets.map((set) => ({
    name: set.name,
    examples: set.examples,
    routers: {
      learned: scored(model(set.train, first), set.examples),
      ...baselines(set.examples),
      ...extra(set),
    },
  }));
  const rng = seededRandom(options.rngSeed);
  const b = bootstrapApgr(bootSets, { resamples: options.resamples, rng });
  const band = randomBand(bootSets, options.resamples, rng);
  // Training noise: the learned point figure for every seed, per set and pooled.
  const overSeeds = new Map<string, number[]>();
  for (const seed of [first, ...rest]) {
    const perSet = sets.map((set, s) =>
      seed === first
        ? (b.point.learned?.[s] as number)
        : (routerMetrics(scored(model(set.train, seed), set.examples), set.examples)
            .apgr as number),
    );
    sets.forEach((set, s) =>
      overSeeds.set(set.name, [...(overSeeds.get(set.name) ?? []), perSet[s] as number]),
    );
    overSeeds.set(POOLED, [
      ...(overSeeds.get(POOLED) ?? []),
      perSet.reduce((a, x) => a + x, 0) / perSet.length,
    ]);
  }
  return {
    report: { protocol, scopes: scopeReports(b, band, sets, overSeeds), resamples: b.resamples },
    bootstrap: b,
  };
}

export interface CrossDomainReport {
  leaveOneDomainOut: ProtocolReport;
  directions: ProtocolReport[];
  /** Per domain and pooled: in-sample beside held-out (leave one domain out). */
  inSample: Record<string, InSampleRow>;
}

export function crossDomainReport(
  data: { mmlu: readonly Example[]; gsm8k: readonly Example[] },
  options: CrossDomainOptions,
): CrossDomainReport {
  const all = [...data.mmlu, ...data.gsm8k];
  const lodo = leaveOneDomainOut(all).map((s) => ({
    name: s.domain,
    examples: s.test,
    train: s.train,
  }));
  // In-sample routers on the same prompts, so their lead over held-out is paired too.
  const inSampleModel = options.train(all, options.seeds[0] ?? 0);
  const domains = evaluateProtocol('leave one domain out', lodo, options, (set) => ({
    inSample: scored(inSampleModel, set.examples),
    shipped: scored(options.shipped, set.examples),
  }));
  const b = domains.bootstrap;
  const inSample = Object.fromEntries(
    [...lodo.map((s) => s.name), POOLED].map((scope) => [
      scope,
      {
        n: domains.report.scopes[scope]?.n ?? 0,
        heldOut: apgrEstimate(b, 'learned', scope),
        inSample: apgrEstimate(b, 'inSample', scope),
        gap: apgrDifference(b, 'inSample', 'learned', scope),
        shipped: apgrEstimate(b, 'shipped', scope),
      },
    ]),
  );

  const mmlu = [...data.mmlu];
  const gsm8k = [...data.gsm8k];
  const mmluToGsm8k = evaluateProtocol(
    'trained on MMLU, tested on GSM8K',
    [{ name: 'gsm8k', examples: gsm8k, train: mmlu }],
    options,
  );
  const gsm8kToMmlu = evaluateProtocol(
    'trained on GSM8K, tested on MMLU (mean of its domains)',
    [...byDomain(mmlu)].map(([domain, examples]) => ({ name: domain, examples, train: gsm8k })),
    options,
  );
  return {
    leaveOneDomainOut: domains.report,
    directions: [mmluToGsm8k.report, gsm8kToMmlu.report],
    inSample,
  };
}

/** The goals, on the pooled figure of every cross-domain protocol. */
export const GOALS = { apgr: 0.6, overLength: 0.03 } as const;

export interface GoalRow {
  protocol: string;
  apgr: number;
  apgrMet: boolean;
  overLength: Estimate;
  /** ≥ GOALS.overLength and the interval's lower end above 0. */
  overLengthMet: boolean;
}

export function goals(report: CrossDomainReport): GoalRow[] {
  return [report.leaveOneDomainOut, ...report.directions].map((p) => {
    const pooled = p.scopes[POOLED] as ScopeReport;
    return {
      protocol: p.protocol,
      apgr: pooled.learned.point,
      apgrMet: pooled.learned.point >= GOALS.apgr,
      overLength: pooled.vs.length,
      overLengthMet: pooled.vs.length.point >= GOALS.overLength && pooled.vs.length.lo > 0,
    };
  });
}
