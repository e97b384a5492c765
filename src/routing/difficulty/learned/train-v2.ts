// Offline training of model v2: a ridge regression on the task-kind features
// of features-v2.ts, fitted to each domain's WITHIN-domain ordering (labels
// and features centred per domain, domains weighted equally), with a second
// set of weights for quantitative prompts (quantitativeGate), plus a
// prompt-length prior and hand-set priors for kinds of tasks the training
// data never shows (chit-chat, creative writing, proofs, code, ...).
//
// Why this shape: APGR only measures how a router orders prompts inside one
// set of traffic. A model fitted on pooled sets also learns which SET is
// harder (GSM8K vs MMLU, law vs marketing), which is topic, not task; centring
// per domain removes that, and a closed-form fit on ~40 dense features is
// deterministic and cheap enough to choose the recipe by nested
// leave-one-domain-out (bench/router-v2-select.ts).
import type { Example } from './dataset.js';
import { domainOf } from './domains.js';
import {
  DENSE_FEATURES_V2,
  FEATURE_SET_V2,
  FeatureBufferV2,
  extractFeaturesV2,
  featureIndexV2,
  featureSetIdV2,
  quantitativeGate,
  type DenseFeatureV2,
} from './features-v2.js';
import { MODEL_FORMAT, linearScoreV2, modelChecksum, type DifficultyModelFileV2 } from './model.js';
import { quantileSorted } from './metrics.js';
import { labelsFor, type LabelKind } from './train.js';
import { seededRandom } from '../../random.js';

/** Pairs sampled per partition by the `pairwise` fit. */
const PAIRS_PER_PARTITION = 4000;
const NEWTON_STEPS = 8;

/** Groups of learned features; a recipe learns weights for the groups it names. */
export const FEATURE_GROUPS = {
  length: ['log_chars', 'log_words', 'log_sentences', 'log_lines'],
  structure: [
    'log_list_items',
    'log_questions',
    'mean_word_length',
    'long_word_share',
    'capitalised_word_share',
    'non_ascii_word_share',
  ],
  math: [
    'log_numbers',
    'log_max_number_digits',
    'log_digit_operators',
    'log_latex_commands',
    'log_currency',
    'log_unit_words',
    'log_quantity_questions',
    'log_solve_words',
    'log_math_words',
  ],
  reasoning: ['log_reasoning_words', 'log_constraint_words', 'log_negation_words'],
  passage: ['log_passage_chars', 'log_extraction_words'],
  code: ['code_symbol_share', 'log_code_keywords'],
  // first_second_person_share is not learned: in MMLU it marks one subject's
  // format (moral_scenarios: "I did X"), and a weight learned there lifted
  // every chatty prompt written in the first person.
  conversation: ['log_factoid_cues'],
} as const satisfies Record<string, readonly DenseFeatureV2[]>;
export type FeatureGroup = keyof typeof FEATURE_GROUPS;
export const ALL_GROUPS = Object.keys(FEATURE_GROUPS) as FeatureGroup[];

/**
 * Hand-set weights, in standard deviations of the learned-plus-length score
 * per unit of the feature (counts enter as log1p, so one cue word is 0.69), for kinds of tasks the RouteLLM data (MMLU, GSM8K) barely
 * contains, so nothing can be learned about them from it. (Math cues are
 * left to the data: priors on "how many", arithmetic and LaTeX cost 0.012 of
 * nested leave-one-domain-out APGR, MMLU-STEM 0.513 → 0.464: there, prompts
 * with calculations are ones both models fail.) Signs follow the
 * published per-category results of strong vs weak models (MT-Bench:
 * writing and role-play show the smallest gaps, math, reasoning and coding
 * the largest). Sizes: the training prompts are long (MMLU's median is
 * about 400 characters), so a 40-character "Prove ..." sits three standard
 * deviations down on length alone; a proof or a request to write code must
 * lift a short prompt past the median, greetings and fillers must pull a
 * long chatty one below it. Never fitted.
 */
export const HAND_SET_PRIORS: Readonly<Partial<Record<DenseFeatureV2, number>>> = {
  log_proof_words: 4.5,
  log_code_write_cues: 3,
  log_code_fences: 1,
  log_creative_words: -1.2,
  log_roleplay_cues: -1,
  log_chat_words: -2,
  log_translation_cues: -0.8,
  log_summary_cues: -0.8,
};

export interface TrainOptionsV2 {
  label: LabelKind;
  /** Centre labels and features per `domain` (within-domain ordering), per `group` (subject) or not at all. */
  center: 'domain' | 'group' | 'none';
  /**
   * How learned weights are fitted: `ridge` regression on the centred
   * features, or `consistent`: a feature gets weight only if its
   * within-domain correlation with the label has the same sign in every
   * training domain, and then the smallest such correlation (what held
   * everywhere, not the average); `screened`: ridge on only the features
   * whose within-domain correlation has the same sign in every training
   * domain (sign-consistent screening); `pairwise`: logistic loss on pairs
   * of prompts of the same partition with different labels (a ranking
   * objective: only the order inside a domain counts), ridge-penalised.
   */
  fit: 'ridge' | 'consistent' | 'screened' | 'pairwise';
  /** Ridge penalty on standardised features, per example (λ·n); for `consistent`, the least |correlation| kept. */
  ridge: number;
  /** Feature groups whose weights are learned. */
  groups: readonly FeatureGroup[];
  /** Standard deviations of log(length) added to the standardised learned score. */
  lengthPrior: number;
  /** Multiplies HAND_SET_PRIORS (0 turns them off). */
  priorScale: number;
  /**
   * `quantitative`: learned features get a second weight that applies only
   * to quantitative prompts (quantitativeGate), so math-like and verbal
   * prompts are ordered by different rules; `none`: one rule for all.
   */
  gate: 'none' | 'quantitative';
  /**
   * Bagging over domains: the weights are the mean of the weights fitted
   * with each training domain left out in turn (needs three or more
   * domains; with fewer, one fit on all). A weight that only one domain
   * supports is diluted, one that every domain supports is kept.
   */
  bag: boolean;
  /** With `bag`: `mean` of the fits, or `sign-agree`: the mean where all fits agree in sign, else 0. */
  bagRule?: 'mean' | 'sign-agree';
  seed: number;
  name: string;
  calibrationSteps: number;
}

/**
 * The recipe the shipped model is trained with: the candidate of
 * bench/router-v2-select.ts with the best mean leave-one-domain-out APGR over
 * all five domains (that script prints the choice and its figures). Bagged
 * over domains (V2_FAMILIES=ridge,bag picks it: LODO 0.566 against 0.564
 * unbagged): nested leave-one-domain-out 0.563 with bagged candidates only,
 * 0.557 unbagged, 0.560 when each inner selection may pick either; length
 * rule 0.548 on the same prompts.
 */
export const SHIPPED_RECIPE_V2 = {
  label: 'gain',
  center: 'domain',
  fit: 'ridge',
  ridge: 0.1,
  groups: ['length', 'structure', 'math', 'reasoning', 'passage', 'code', 'conversation'],
  lengthPrior: 1,
  priorScale: 1,
  gate: 'quantitative',
  bag: true,
} as const satisfies Omit<TrainOptionsV2, 'seed' | 'name' | 'calibrationSteps'>;

export const DEFAULT_TRAIN_OPTIONS_V2: TrainOptionsV2 = {
  ...SHIPPED_RECIPE_V2,
  seed: 1,
  name: 'difficulty',
  calibrationSteps: 100,
};

/** Features of many prompts, n × DENSE_FEATURES_V2.length, row-major. */
export interface FeatureMatrixV2 {
  n: number;
  dense: Float64Array;
}

export function featureMatrixV2(prompts: readonly string[]): FeatureMatrixV2 {
  const d = DENSE_FEATURES_V2.length;
  const buffer = new FeatureBufferV2();
  const dense = new Float64Array(prompts.length * d);
  prompts.forEach((p, i) => {
    extractFeaturesV2(p, buffer);
    dense.set(buffer.dense, i * d);
  });
  return { n: prompts.length, dense };
}

/** Solves A x = b for symmetric positive definite A (Cholesky); A is k × k row-major. */
export function solveSpd(a: Float64Array, b: Float64Array, k: number): Float64Array {
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i * k + j] as number;
      for (let m = 0; m < j; m++) s -= (l[i * k + m] as number) * (l[j * k + m] as number);
      l[i * k + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / (l[j * k + j] as number);
    }
  const y = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let s = b[i] as number;
    for (let m = 0; m < i; m++) s -= (l[i * k + m] as number) * (y[m] as number);
    y[i] = s / (l[i * k + i] as number);
  }
  const x = new Float64Array(k);
  for (let i = k - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let m = i + 1; m < k; m++) s -= (l[m * k + i] as number) * (x[m] as number);
    x[i] = s / (l[i * k + i] as number);
  }
  return x;
}

/** [x, g·x]: the features, then again multiplied by the quantitative gate. */
function withGate(x: FeatureMatrixV2): FeatureMatrixV2 {
  const d = DENSE_FEATURES_V2.length;
  const dense = new Float64Array(x.n * 2 * d);
  for (let i = 0; i < x.n; i++) {
    const g = quantitativeGate(x.dense, i * d);
    for (let j = 0; j < d; j++) {
      const v = x.dense[i * d + j] as number;
      dense[i * 2 * d + j] = v;
      dense[i * 2 * d + d + j] = g * v;
    }
  }
  return { n: x.n, dense };
}

/** Partition key per example for centring. */
function partitions(examples: readonly Example[], center: TrainOptionsV2['center']): Int32Array {
  const ids = new Map<string, number>();
  return Int32Array.from(examples, (e) => {
    const key = center === 'none' ? '' : center === 'group' ? e.group : domainOf(e.group);
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size));
    return id;
  });
}

/** Pearson correlation of feature j with the label inside partition p; null if either is constant there. */
function correlation(
  x: FeatureMatrixV2,
  y: Float64Array,
  part: Int32Array,
  p: number,
  j: number,
  d: number,
): number | null {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < x.n; i++)
    if (part[i] === p) {
      n++;
      sx += x.dense[i * d + j] as number;
      sy += y[i] as number;
    }
  if (n < 2) return null;
  const mx = sx / n;
  const my = sy / n;
  let cxy = 0;
  let cxx = 0;
  let cyy = 0;
  for (let i = 0; i < x.n; i++)
    if (part[i] === p) {
      const a = (x.dense[i * d + j] as number) - mx;
      const b = (y[i] as number) - my;
      cxy += a * b;
      cxx += a * a;
      cyy += b * b;
    }
  return cxx > 1e-12 && cyy > 1e-12 ? cxy / Math.sqrt(cxx * cyy) : null;
}

/**
 * Ridge-penalised logistic regression on feature differences of sampled
 * pairs (i, j) from one partition with y_i ≠ y_j, target y_i > y_j; Newton
 * steps on the k × k system. Each partition contributes the same number of
 * pairs, so domains weigh the same.
 */
function fitPairwise(
  n: number,
  k: number,
  part: Int32Array,
  parts: number,
  y: Float64Array,
  z: (i: number, u: number) => number,
  ridge: number,
  seed: number,
): Float64Array {
  const members: number[][] = Array.from({ length: parts }, () => []);
  for (let i = 0; i < n; i++) (members[part[i] as number] as number[]).push(i);
  const rng = seededRandom(seed);
  const diffs: number[] = [];
  let pairs = 0;
  for (const m of members) {
    if (m.length < 2) continue;
    for (
      let t = 0, tries = 0;
      t < PAIRS_PER_PARTITION && tries < 20 * PAIRS_PER_PARTITION;
      tries++
    ) {
      const a = m[Math.floor(rng() * m.length)] as number;
      const b = m[Math.floor(rng() * m.length)] as number;
      if ((y[a] as number) === (y[b] as number)) continue;
      const [hi, lo] = (y[a] as number) > (y[b] as number) ? [a, b] : [b, a];
      for (let u = 0; u < k; u++) diffs.push(z(hi, u) - z(lo, u));
      t++;
      pairs++;
    }
  }
  const beta = new Float64Array(k);
  if (pairs === 0) return beta;
  const d = Float64Array.from(diffs);
  const lambda = ridge * pairs;
  for (let step = 0; step < NEWTON_STEPS; step++) {
    const h = new Float64Array(k * k);
    const g = new Float64Array(k);
    for (let p = 0; p < pairs; p++) {
      const off = p * k;
      let m = 0;
      for (let u = 0; u < k; u++) m += (beta[u] as number) * (d[off + u] as number);
      const prob = 1 / (1 + Math.exp(-m));
      const r = prob - 1;
      const wgt = prob * (1 - prob);
      for (let u = 0; u < k; u++) {
        const du = d[off + u] as number;
        g[u] = (g[u] as number) + r * du;
        const wu = wgt * du;
        for (let v = 0; v <= u; v++)
          h[u * k + v] = (h[u * k + v] as number) + wu * (d[off + v] as number);
      }
    }
    for (let u = 0; u < k; u++) {
      for (let v = 0; v < u; v++) h[v * k + u] = h[u * k + v] as number;
      h[u * k + u] = (h[u * k + u] as number) + lambda;
      g[u] = (g[u] as number) + lambda * (beta[u] as number);
    }
    const delta = solveSpd(h, g, k);
    for (let u = 0; u < k; u++) beta[u] = (beta[u] as number) - (delta[u] as number);
  }
  return beta;
}

/** Whether feature j correlates with the label with one sign inside every domain where both vary. */
function signConsistent(
  x: FeatureMatrixV2,
  y: Float64Array,
  examples: readonly Example[],
  j: number,
  d: number,
): boolean {
  const dom = partitions(examples, 'domain');
  const doms = Math.max(...dom) + 1;
  let sign = 0;
  for (let p = 0; p < doms; p++) {
    const c = correlation(x, y, dom, p, j, d);
    if (c === null) continue;
    if (sign === 0) sign = Math.sign(c);
    else if (Math.sign(c) !== sign) return false;
  }
  return sign !== 0;
}

/**
 * The linear weights (per raw feature value) before calibration: the learned
 * part standardised to unit within-domain sd, plus the length prior and the
 * hand-set priors. Exposed for the recipe selection, which scores with it
 * directly; `trainDifficultyModelV2` wraps it into a file.
 */
export function fitWeightsV2(
  examples: readonly Example[],
  options: Partial<TrainOptionsV2> = {},
  features?: FeatureMatrixV2,
): Float64Array {
  const o: TrainOptionsV2 = { ...DEFAULT_TRAIN_OPTIONS_V2, ...options };
  if (examples.length === 0) throw new Error('cannot train a difficulty model on no examples');
  const x0 = features ?? featureMatrixV2(examples.map((e) => e.prompt));
  if (x0.n !== examples.length)
    throw new Error(`feature matrix has ${x0.n} rows for ${examples.length} examples`);
  if (o.bag) {
    const domains = examples.map((e) => domainOf(e.group));
    const distinct = [...new Set(domains)];
    if (distinct.length >= 3) {
      const d = x0.dense.length / x0.n;
      let sum: Float64Array | undefined;
      const fits: Float64Array[] = [];
      for (const left of distinct) {
        const keep = examples.flatMap((_, i) => (domains[i] === left ? [] : [i]));
        const dense = new Float64Array(keep.length * d);
        keep.forEach((i, r) => dense.set(x0.dense.subarray(i * d, i * d + d), r * d));
        const w = fitWeightsV2(
          keep.map((i) => examples[i] as Example),
          { ...o, bag: false },
          { n: keep.length, dense },
        );
        fits.push(w);
        sum ??= new Float64Array(w.length);
        for (let j = 0; j < w.length; j++) sum[j] = (sum[j] as number) + (w[j] as number);
      }
      const agree = (j: number) =>
        fits.every((f) => (f[j] as number) >= 0) || fits.every((f) => (f[j] as number) <= 0);
      return (sum as Float64Array).map((v, j) =>
        o.bagRule === 'sign-agree' && !agree(j) ? 0 : v / distinct.length,
      );
    }
  }
  const base = DENSE_FEATURES_V2.length;
  const gated = o.gate === 'quantitative';
  const x = gated ? withGate(x0) : x0;
  const n = x.n;
  const d = gated ? 2 * base : base;
  const y = labelsFor(examples, o.label);
  const part = partitions(examples, o.center);
  const parts = Math.max(...part) + 1;

  // Per-partition means; each partition weighs the same in total.
  const size = new Float64Array(parts);
  for (let i = 0; i < n; i++) size[part[i] as number] = (size[part[i] as number] as number) + 1;
  const mx = new Float64Array(parts * d);
  const my = new Float64Array(parts);
  for (let i = 0; i < n; i++) {
    const p = part[i] as number;
    const inv = 1 / (size[p] as number);
    my[p] = (my[p] as number) + (y[i] as number) * inv;
    for (let j = 0; j < d; j++)
      mx[p * d + j] = (mx[p * d + j] as number) + (x.dense[i * d + j] as number) * inv;
  }
  const weightOf = (i: number) => n / parts / (size[part[i] as number] as number);
  const centred = (i: number, j: number) =>
    (x.dense[i * d + j] as number) - (mx[(part[i] as number) * d + j] as number);

  // Standard deviation of every feature after centring (weighted).
  const sd = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const w = weightOf(i);
    for (let j = 0; j < d; j++) sd[j] = (sd[j] as number) + (w * centred(i, j) ** 2) / n;
  }
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j] as number);

  const learned = new Set<number>();
  for (const g of o.groups)
    for (const f of FEATURE_GROUPS[g]) {
      learned.add(featureIndexV2(f));
      if (gated) learned.add(base + featureIndexV2(f));
    }
  let active = [...learned].filter((j) => (sd[j] as number) > 1e-6).sort((a, b) => a - b);
  if (o.fit === 'screened') active = active.filter((j) => signConsistent(x, y, examples, j, d));
  const k = active.length;
  const weights = new Float64Array(d);
  /** Within-partition sd of the score under the current weights (weighted like the fit). */
  const scoreSd = (): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (weights[j] as number) * centred(i, j);
      v += (weightOf(i) * s * s) / n;
    }
    return Math.sqrt(v);
  };
  if (k > 0 && o.fit === 'consistent') {
    const dom = partitions(examples, 'domain');
    const doms = Math.max(...dom) + 1;
    for (const j of active) {
      let lo = Infinity;
      let sign = 0;
      for (let p = 0; p < doms; p++) {
        const c = correlation(x, y, dom, p, j, d);
        if (c === null) continue;
        const sg = Math.sign(c);
        if (sign === 0) sign = sg;
        if (sg !== sign) {
          lo = 0;
          break;
        }
        lo = Math.min(lo, Math.abs(c));
      }
      weights[j] =
        sign !== 0 && Number.isFinite(lo) && lo >= o.ridge ? (sign * lo) / (sd[j] as number) : 0;
    }
  } else if (k > 0 && o.fit === 'pairwise') {
    const beta = fitPairwise(
      n,
      k,
      part,
      parts,
      y,
      (i, u) => {
        const j = active[u] as number;
        return centred(i, j) / (sd[j] as number);
      },
      o.ridge,
      o.seed,
    );
    for (let u = 0; u < k; u++) {
      const j = active[u] as number;
      weights[j] = (beta[u] as number) / (sd[j] as number);
    }
  } else if (k > 0) {
    const a = new Float64Array(k * k);
    const b = new Float64Array(k);
    const z = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const w = weightOf(i);
      for (let u = 0; u < k; u++) {
        const j = active[u] as number;
        z[u] = centred(i, j) / (sd[j] as number);
      }
      const yc = (y[i] as number) - (my[part[i] as number] as number);
      for (let u = 0; u < k; u++) {
        const zu = (z[u] as number) * w;
        b[u] = (b[u] as number) + zu * yc;
        for (let v = 0; v <= u; v++)
          a[u * k + v] = (a[u * k + v] as number) + zu * (z[v] as number);
      }
    }
    for (let u = 0; u < k; u++) {
      for (let v = 0; v < u; v++) a[v * k + u] = a[u * k + v] as number;
      a[u * k + u] = (a[u * k + u] as number) + o.ridge * n;
    }
    const beta = solveSpd(a, b, k);
    for (let u = 0; u < k; u++) {
      const j = active[u] as number;
      weights[j] = (beta[u] as number) / (sd[j] as number);
    }
  }
  if (k > 0) {
    // Scale the learned score to unit within-partition sd.
    const sdLearned = scoreSd();
    const scale = sdLearned > 0 ? 1 / sdLearned : 0;
    for (let j = 0; j < d; j++) weights[j] = (weights[j] as number) * scale;
  }
  const len = featureIndexV2('log_chars');
  if ((sd[len] as number) > 0)
    weights[len] = (weights[len] as number) + o.lengthPrior / (sd[len] as number);
  // Hand-set priors are in standard deviations of the score so far (learned + length).
  const unit = scoreSd() || 1;
  for (const [f, w] of Object.entries(HAND_SET_PRIORS))
    if (w !== undefined) {
      const j = featureIndexV2(f as DenseFeatureV2);
      weights[j] = (weights[j] as number) + o.priorScale * w * unit;
    }
  return weights;
}

/** Trains a v2 model and returns the file content (checksum included). */
export function trainDifficultyModelV2(
  examples: readonly Example[],
  options: Partial<TrainOptionsV2> = {},
  features?: FeatureMatrixV2,
): DifficultyModelFileV2 {
  const o: TrainOptionsV2 = { ...DEFAULT_TRAIN_OPTIONS_V2, ...options };
  const x = features ?? featureMatrixV2(examples.map((e) => e.prompt));
  const d = DENSE_FEATURES_V2.length;
  const w = Array.from(fitWeightsV2(examples, o, x), (v) => Math.fround(v));
  const dense = w.slice(0, d);
  const quantitative = w.length > d ? w.slice(d) : undefined;
  // Calibrate on the training prompts with the exported (float32) weights,
  // exactly as the scorer computes them (the same function).
  const scores = new Float64Array(x.n);
  for (let i = 0; i < x.n; i++) scores[i] = linearScoreV2(dense, quantitative, x.dense, i * d);
  scores.sort();
  const calibration = Array.from({ length: o.calibrationSteps + 1 }, (_, i) =>
    Math.fround(quantileSorted(scores, i / o.calibrationSteps)),
  );
  const body: Omit<DifficultyModelFileV2, 'checksum'> = {
    format: MODEL_FORMAT,
    formatVersion: 2,
    name: o.name,
    featureSet: {
      id: featureSetIdV2(),
      version: FEATURE_SET_V2.version,
      dense: [...DENSE_FEATURES_V2],
    },
    training: {
      examples: x.n,
      label: o.label,
      center: o.center,
      fit: o.fit,
      ridge: o.ridge,
      groups: [...o.groups],
      lengthPrior: o.lengthPrior,
      priorScale: o.priorScale,
      gate: o.gate,
      bag: o.bag,
      seed: o.seed,
    },
    bias: 0,
    dense,
    ...(quantitative ? { quantitative } : {}),
    calibration,
  };
  return { ...body, checksum: modelChecksum(body) };
}
