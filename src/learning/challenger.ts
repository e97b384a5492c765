// A route's challenger model: the prior (a format-2 difficulty model) adapted
// to the route's own labels, warm-started so that a few hundred labels move
// it only as far as they can support.
//
// The fit is a ridge regression of the gain (how much the strong tier helped)
// on [the prior's raw score, the standardised v2 features, the standardised
// v2 features of quantitative prompts]. The prior's score is not penalised:
// with a strong ridge the challenger is the prior re-scaled (same order);
// the ridge decides how far the route's labels may pull away from it. The
// ridge strength is chosen by k-fold cross-validation on the labels given
// (never on anything else), and "keep the prior's order" is one of the
// choices. Everything stays linear in the v2 features, so the result folds
// back into a format-2 file (bias, dense, quantitative, calibration) that
// proxies load with difficultyModelFromJson. Closed form: 76 unknowns, a
// Gram matrix per fold; milliseconds for a 2,000-label window.
import {
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION_V2,
  linearScoreV2,
  modelChecksum,
  type DifficultyModelFileV2,
} from '../routing/difficulty/learned/model.js';
import { quantileSorted, routerMetrics } from '../routing/difficulty/learned/metrics.js';
import { quantitativeGate } from '../routing/difficulty/learned/features-v2.js';
import { solveSpd } from '../routing/difficulty/learned/train-v2.js';
import { seededRandom } from '../routing/random.js';
import { LEARNING_FEATURE_COUNT } from './wire.js';

/** One label the learner trains on: a prompt's v2 features and the strong tier's gain. */
export interface GainExample {
  features: ArrayLike<number>;
  /** Strong minus weak quality, in [−1, 1]. */
  gain: number;
}

/**
 * Ridge strengths (per example, on standardised columns) the cross-validation
 * chooses from; Infinity keeps only the prior's score (its order, unchanged).
 */
export const RIDGE_GRID: readonly number[] = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, Infinity];
export const DEFAULT_CV_FOLDS = 5;
const DEFAULT_CALIBRATION_STEPS = 100;

export interface ChallengerOptions {
  /** Seeds the cross-validation folds: same labels, same seed, same file. */
  seed: number;
  name?: string;
  /** A fixed ridge strength, or `cv` (default): chosen from RIDGE_GRID by k-fold CV on the labels. */
  ridge?: number | 'cv';
  /** Folds of the cross-validation (default 5). */
  folds?: number;
  /** Features whose scores place the calibration knots (default: the labels' own). */
  calibrationFeatures?: readonly ArrayLike<number>[];
  calibrationSteps?: number;
}

export interface Challenger {
  file: DifficultyModelFileV2;
  /** The ridge strength used (Infinity: the prior's order kept). */
  ridge: number;
  /** Out-of-fold APGR per ridge strength tried (null: undefined on these labels), when chosen by CV. */
  cv: Array<{ ridge: number; apgr: number | null; mse: number }> | null;
  /** The fitted model before it was folded into the file (float64 weights): the file scores the same up to float32 rounding. */
  score: (features: ArrayLike<number>) => number;
}

/** The raw (uncalibrated) score of a format-2 file on one feature vector, as the proxy computes it. */
export function rawScoreOfFile(file: DifficultyModelFileV2, features: ArrayLike<number>): number {
  return file.bias + linearScoreV2(file.dense, file.quantitative, features);
}

const D = LEARNING_FEATURE_COUNT;
/** Columns: the prior's score, D dense, D gated, the intercept. */
const K = 2 * D + 2;
const PRIOR = 0;
const INTERCEPT = K - 1;

interface Design {
  n: number;
  /** n × K, row-major. */
  z: Float64Array;
  y: Float64Array;
  /** Column scaling: z = (value − centre) · scale. */
  centre: Float64Array;
  scale: Float64Array;
}

/** The K column values of one feature vector, before centring and scaling, into out[offset..]. */
function rawRow(
  prior: DifficultyModelFileV2,
  x: ArrayLike<number>,
  out: Float64Array,
  offset: number,
): void {
  const g = quantitativeGate(x);
  out[offset + PRIOR] = rawScoreOfFile(prior, x);
  for (let j = 0; j < D; j++) {
    const v = x[j] as number;
    out[offset + 1 + j] = v;
    out[offset + 1 + D + j] = g * v;
  }
  out[offset + INTERCEPT] = 1;
}

function design(prior: DifficultyModelFileV2, examples: readonly GainExample[]): Design {
  const n = examples.length;
  const raw = new Float64Array(n * K);
  const y = new Float64Array(n);
  examples.forEach((e, i) => {
    if (e.features.length !== D)
      throw new Error(`label ${i} has ${e.features.length} features, feature set v2 has ${D}`);
    rawRow(prior, e.features, raw, i * K);
    y[i] = e.gain;
  });
  const centre = new Float64Array(K);
  const scale = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    if (k === INTERCEPT) {
      scale[k] = 1;
      continue;
    }
    let m = 0;
    for (let i = 0; i < n; i++) m += raw[i * K + k] as number;
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += ((raw[i * K + k] as number) - m) ** 2;
    const sd = Math.sqrt(v / n);
    // Gated columns are not centred: a centre times the gate would be an
    // intercept for quantitative prompts only, which a format-2 file cannot hold.
    centre[k] = k > D ? 0 : m;
    scale[k] = sd > 1e-9 ? 1 / sd : 0;
  }
  const z = new Float64Array(n * K);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < K; k++)
      z[i * K + k] = ((raw[i * K + k] as number) - (centre[k] as number)) * (scale[k] as number);
  return { n, z, y, centre, scale };
}

/** Gram matrix and moment vector of the rows `rows` (or all). */
function moments(d: Design, rows?: ArrayLike<number>): { a: Float64Array; b: Float64Array } {
  const a = new Float64Array(K * K);
  const b = new Float64Array(K);
  const count = rows ? rows.length : d.n;
  for (let r = 0; r < count; r++) {
    const i = rows ? (rows[r] as number) : r;
    const off = i * K;
    const yi = d.y[i] as number;
    for (let u = 0; u < K; u++) {
      const zu = d.z[off + u] as number;
      if (zu === 0) continue;
      b[u] = (b[u] as number) + zu * yi;
      for (let v = 0; v <= u; v++)
        a[u * K + v] = (a[u * K + v] as number) + zu * (d.z[off + v] as number);
    }
  }
  for (let u = 0; u < K; u++) for (let v = 0; v < u; v++) a[v * K + u] = a[u * K + v] as number;
  return { a, b };
}

/** Ridge solution on given moments over `n` rows: every column but the prior's and the intercept penalised. */
function solve(a: Float64Array, b: Float64Array, n: number, ridge: number): Float64Array {
  const m = Float64Array.from(a);
  const rhs = Float64Array.from(b);
  for (let u = 0; u < K; u++) {
    if (u === PRIOR || u === INTERCEPT) {
      m[u * K + u] = (m[u * K + u] as number) + 1e-9 * n;
      continue;
    }
    if (!Number.isFinite(ridge)) {
      // Infinity: the column is out of the model.
      for (let v = 0; v < K; v++) m[u * K + v] = m[v * K + u] = 0;
      m[u * K + u] = 1;
      rhs[u] = 0;
    } else m[u * K + u] = (m[u * K + u] as number) + ridge * n;
  }
  return solveSpd(m, rhs, K);
}

function predict(d: Design, beta: Float64Array, i: number): number {
  let s = 0;
  const off = i * K;
  for (let k = 0; k < K; k++) s += (beta[k] as number) * (d.z[off + k] as number);
  return s;
}

/** Out-of-fold APGR and mean squared error per ridge strength. */
function crossValidate(
  d: Design,
  folds: number,
  seed: number,
): Array<{ ridge: number; apgr: number | null; mse: number }> {
  const rng = seededRandom(seed);
  const order = Array.from({ length: d.n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const k = Math.max(2, Math.min(folds, d.n));
  const foldRows = Array.from({ length: k }, (_, f) => order.filter((_, r) => r % k === f));
  const total = moments(d);
  const perFold = foldRows.map((rows) => moments(d, rows));
  const gains = Array.from(d.y, (g) => ({ weak: 0, strong: g }));
  return RIDGE_GRID.map((ridge) => {
    const oof = new Float64Array(d.n);
    foldRows.forEach((rows, f) => {
      const held = perFold[f] as { a: Float64Array; b: Float64Array };
      const a = total.a.map((v, i) => v - (held.a[i] as number));
      const b = total.b.map((v, i) => v - (held.b[i] as number));
      const beta = solve(a, b, d.n - rows.length, ridge);
      for (const i of rows) oof[i] = predict(d, beta, i);
    });
    let se = 0;
    for (let i = 0; i < d.n; i++) se += ((oof[i] as number) - (d.y[i] as number)) ** 2;
    return { ridge, apgr: routerMetrics(oof, gains).apgr, mse: se / d.n };
  });
}

/** The best ridge by out-of-fold APGR (ties: the stronger ridge); by MSE when APGR is undefined. */
function chooseRidge(
  cv: ReadonlyArray<{ ridge: number; apgr: number | null; mse: number }>,
): number {
  const defined = cv.filter((c) => c.apgr !== null);
  const pool = defined.length > 0 ? defined : cv;
  let best = pool[0] as (typeof cv)[number];
  for (const c of pool) {
    const better =
      defined.length > 0 ? (c.apgr as number) >= (best.apgr as number) : c.mse <= best.mse;
    if (better) best = c;
  }
  return best.ridge;
}

/**
 * Fits the challenger on `examples` (the training part of a window; the
 * caller keeps its held-out labels away) and folds it into a format-2 file.
 */
export function fitChallenger(
  prior: DifficultyModelFileV2,
  examples: readonly GainExample[],
  options: ChallengerOptions,
): Challenger {
  if (examples.length < 2)
    throw new Error(`a challenger needs at least 2 labels, got ${examples.length}`);
  const d = design(prior, examples);
  const cv =
    options.ridge === undefined || options.ridge === 'cv'
      ? crossValidate(d, options.folds ?? DEFAULT_CV_FOLDS, options.seed)
      : null;
  const ridge = cv ? chooseRidge(cv) : (options.ridge as number);
  const { a, b } = moments(d);
  const beta = solve(a, b, d.n, ridge);

  // Fold back: score = Σ_k β_k (value_k − centre_k) scale_k, values linear in the features.
  const priorWeight = (beta[PRIOR] as number) * (d.scale[PRIOR] as number);
  const priorQuant = prior.quantitative;
  const dense = Array.from({ length: D }, (_, j) =>
    Math.fround(
      priorWeight * (prior.dense[j] as number) +
        (beta[1 + j] as number) * (d.scale[1 + j] as number),
    ),
  );
  const gated = Array.from({ length: D }, (_, j) =>
    Math.fround(
      priorWeight * (priorQuant?.[j] ?? 0) +
        (beta[1 + D + j] as number) * (d.scale[1 + D + j] as number),
    ),
  );
  let bias = priorWeight * prior.bias + (beta[INTERCEPT] as number);
  for (let k = 0; k < INTERCEPT; k++)
    bias -= (beta[k] as number) * (d.scale[k] as number) * (d.centre[k] as number);
  const quantitative = gated.some((w) => w !== 0) ? gated : undefined;

  const calibrationRows = options.calibrationFeatures ?? examples.map((e) => e.features);
  const scores = Float64Array.from(
    calibrationRows,
    (x) => bias + linearScoreV2(dense, quantitative, x),
  ).sort();
  const steps = options.calibrationSteps ?? DEFAULT_CALIBRATION_STEPS;
  const calibration = Array.from({ length: steps + 1 }, (_, i) =>
    Math.fround(quantileSorted(scores, i / steps)),
  );
  const body: Omit<DifficultyModelFileV2, 'checksum'> = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION_V2,
    name: options.name ?? `${prior.name}-adapted`,
    featureSet: { ...prior.featureSet, dense: [...prior.featureSet.dense] },
    training: {
      kind: 'warm-start',
      prior: prior.checksum,
      labels: examples.length,
      ridge: Number.isFinite(ridge) ? ridge : 'prior-only',
      ridgeChosenBy: cv ? `${options.folds ?? DEFAULT_CV_FOLDS}-fold cv on the labels` : 'fixed',
      priorWeight,
      seed: options.seed,
    },
    bias,
    dense,
    ...(quantitative ? { quantitative } : {}),
    calibration,
  };
  const row = new Float64Array(K);
  const score = (features: ArrayLike<number>): number => {
    rawRow(prior, features, row, 0);
    let s = 0;
    for (let k = 0; k < K; k++)
      s +=
        (beta[k] as number) *
        ((row[k] as number) - (d.centre[k] as number)) *
        (d.scale[k] as number);
    return s;
  };
  return { file: { ...body, checksum: modelChecksum(body) }, ridge, cv, score };
}

/** The challenger's file (see fitChallenger). */
export function trainChallenger(
  prior: DifficultyModelFileV2,
  examples: readonly GainExample[],
  options: ChallengerOptions,
): DifficultyModelFileV2 {
  return fitChallenger(prior, examples, options).file;
}
