// Offline training of the learned difficulty model: logistic regression on
// the features of features.ts, fitted by AdaGrad SGD in a seeded order, so the
// same data, options and seed give the same file byte for byte.
import { seededRandom } from '../../random.js';
import type { Example } from './dataset.js';
import {
  DENSE_FEATURES,
  FEATURE_SET,
  FeatureBuffer,
  extractFeatures,
  featureSetId,
} from './features.js';
import {
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  buildScorer,
  encodeFloat32,
  encodeInt32,
  modelChecksum,
  type AnyDifficultyModelFile,
  type DifficultyModelFile,
} from './model.js';
import { quantileSorted } from './metrics.js';

/**
 * What the model learns to predict, from the two outcomes (higher is better):
 * - `gain`: (strong − weak) mapped to 0..1 (a tie is ½), i.e. how much the
 *   strong model adds; ranking by it is what maximises quality per strong call;
 * - `strong-wins`: 1 when the strong model does strictly better, else 0;
 * - `weak-fails`: 1 − weak (the weak model's failure alone).
 */
export const LABELS = ['gain', 'strong-wins', 'weak-fails'] as const;
export type LabelKind = (typeof LABELS)[number];

export interface TrainOptions {
  label: LabelKind;
  /** L2 penalty per update on the weights touched. */
  l2: number;
  epochs: number;
  learningRate: number;
  /** Multiplies the learning rate of hashed (word) features: below 1 shrinks them towards 0. */
  hashedRate: number;
  /**
   * Weight of the prompt-length prior: the final score is the model's score
   * and this many standard deviations of log(length), both standardised on the
   * training prompts. Length is the one signal that carries over to kinds of
   * prompts never seen in training, so it keeps the model from leaning only
   * on topic words.
   */
  lengthPrior: number;
  seed: number;
  /** Stored in the file. */
  name: string;
  /** Number of calibration intervals (knots = this + 1). */
  calibrationSteps: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  label: 'gain',
  l2: 1e-4,
  epochs: 8,
  learningRate: 0.01,
  hashedRate: 1,
  lengthPrior: 0.5,
  seed: 1,
  name: 'difficulty',
  calibrationSteps: 100,
};

/** Outcomes are scaled to 0..1 by the range seen in the data (True/False already are). */
export function labelsFor(examples: readonly Example[], kind: LabelKind): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const e of examples) {
    lo = Math.min(lo, e.weak, e.strong);
    hi = Math.max(hi, e.weak, e.strong);
  }
  const range = hi > lo ? hi - lo : 1;
  return Float64Array.from(examples, (e) => {
    const w = (e.weak - lo) / range;
    const s = (e.strong - lo) / range;
    if (kind === 'gain') return (s - w + 1) / 2;
    if (kind === 'strong-wins') return s > w ? 1 : 0;
    return 1 - w;
  });
}

/** Features of many prompts, flattened for fast repeated passes. */
export interface FeatureMatrix {
  n: number;
  dense: Float64Array; // n × DENSE_FEATURES.length
  hashStart: Int32Array; // n + 1 offsets into hashes
  hashes: Int32Array;
  hashScale: Float64Array;
}

export function featureMatrix(prompts: readonly string[]): FeatureMatrix {
  const buffer = new FeatureBuffer();
  const d = DENSE_FEATURES.length;
  const dense = new Float64Array(prompts.length * d);
  const hashStart = new Int32Array(prompts.length + 1);
  const chunks: Int32Array[] = [];
  const hashScale = new Float64Array(prompts.length);
  let total = 0;
  prompts.forEach((p, i) => {
    extractFeatures(p, buffer);
    dense.set(buffer.dense, i * d);
    chunks.push(buffer.hashes.slice(0, buffer.hashCount));
    hashScale[i] = buffer.hashScale;
    total += buffer.hashCount;
    hashStart[i + 1] = total;
  });
  const hashes = new Int32Array(total);
  chunks.forEach((c, i) => hashes.set(c, hashStart[i]));
  return { n: prompts.length, dense, hashStart, hashes, hashScale };
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Trains a model and returns the file content (checksum included). */
export function trainDifficultyModel(
  examples: readonly Example[],
  options: Partial<TrainOptions> = {},
  rng?: () => number,
  features?: FeatureMatrix,
): DifficultyModelFile {
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...options };
  if (examples.length === 0) throw new Error('cannot train a difficulty model on no examples');
  const random = rng ?? seededRandom(o.seed);
  const x = features ?? featureMatrix(examples.map((e) => e.prompt));
  const y = labelsFor(examples, o.label);
  const n = x.n;
  const d = DENSE_FEATURES.length;

  // Dense features are standardised while training and folded back on export.
  const mu = new Float64Array(d);
  const sd = new Float64Array(d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) mu[j] = (mu[j] as number) + (x.dense[i * d + j] as number) / n;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++)
      sd[j] = (sd[j] as number) + ((x.dense[i * d + j] as number) - (mu[j] as number)) ** 2 / n;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j] as number) || 1;

  const size = 1 << FEATURE_SET.hashBits;
  const wh = new Float64Array(size);
  const gh = new Float64Array(size);
  const wd = new Float64Array(d);
  const gd = new Float64Array(d);
  let bias = 0;
  let gb = 0;
  const eps = 1e-8;
  const z = new Float64Array(d);
  const hashedRate = o.learningRate * o.hashedRate;
  const order = Int32Array.from({ length: n }, (_, i) => i);

  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const k = Math.floor(random() * (i + 1));
      const t = order[i] as number;
      order[i] = order[k] as number;
      order[k] = t;
    }
    for (let r = 0; r < n; r++) {
      const i = order[r] as number;
      const from = x.hashStart[i] as number;
      const to = x.hashStart[i + 1] as number;
      const scale = x.hashScale[i] as number;
      let s = bias;
      for (let j = 0; j < d; j++) {
        z[j] = ((x.dense[i * d + j] as number) - (mu[j] as number)) / (sd[j] as number);
        s += (wd[j] as number) * (z[j] as number);
      }
      for (let h = from; h < to; h++) s += (wh[x.hashes[h] as number] as number) * scale;
      const g = sigmoid(s) - (y[i] as number);
      gb += g * g;
      bias -= (o.learningRate * g) / (Math.sqrt(gb) + eps);
      for (let j = 0; j < d; j++) {
        const gj = g * (z[j] as number) + o.l2 * (wd[j] as number);
        gd[j] = (gd[j] as number) + gj * gj;
        wd[j] = (wd[j] as number) - (o.learningRate * gj) / (Math.sqrt(gd[j] as number) + eps);
      }
      for (let h = from; h < to; h++) {
        const k = x.hashes[h] as number;
        const gk = g * scale + o.l2 * (wh[k] as number);
        gh[k] = (gh[k] as number) + gk * gk;
        wh[k] = (wh[k] as number) - (hashedRate * gk) / (Math.sqrt(gh[k]) + eps);
      }
    }
  }

  // Fold the standardisation into the weights: w·(x−μ)/σ = (w/σ)·x − Σ wμ/σ.
  const folded = Float64Array.from(wd, (w, j) => w / (sd[j] as number));
  let foldedBias = bias;
  for (let j = 0; j < d; j++)
    foldedBias -= ((wd[j] as number) * (mu[j] as number)) / (sd[j] as number);

  // Standardise the model's score on the training prompts and add the length prior (dense[0] is log length).
  const rawTrain = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = foldedBias;
    for (let j = 0; j < d; j++) s += (folded[j] as number) * (x.dense[i * d + j] as number);
    const scale = x.hashScale[i] as number;
    for (let h = x.hashStart[i] as number; h < (x.hashStart[i + 1] as number); h++)
      s += (wh[x.hashes[h] as number] as number) * scale;
    rawTrain[i] = s;
  }
  let rawMean = 0;
  for (let i = 0; i < n; i++) rawMean += (rawTrain[i] as number) / n;
  let rawVar = 0;
  for (let i = 0; i < n; i++) rawVar += ((rawTrain[i] as number) - rawMean) ** 2 / n;
  const rawSd = Math.sqrt(rawVar) || 1;
  for (let j = 0; j < d; j++) folded[j] = (folded[j] as number) / rawSd;
  folded[0] = (folded[0] as number) + o.lengthPrior / (sd[0] as number);
  foldedBias =
    (foldedBias - rawMean) / rawSd - (o.lengthPrior * (mu[0] as number)) / (sd[0] as number);
  for (let k = 0; k < size; k++) wh[k] = (wh[k] as number) / rawSd;
  const dense = Array.from(folded, (w) => Math.fround(w));

  const indices: number[] = [];
  const weights: number[] = [];
  for (let k = 0; k < size; k++) {
    const w = Math.fround(wh[k] as number);
    if (w !== 0) {
      indices.push(k);
      weights.push(w);
    }
  }
  const table = new Float32Array(size);
  indices.forEach((k, i) => (table[k] = weights[i] as number));
  const biasOut = Math.fround(foldedBias);

  // Calibrate on the training prompts with the exported (float32) weights.
  const raw = buildScorer(
    o.name,
    biasOut,
    Float64Array.from(dense),
    table,
    new Float64Array([0, 1]),
  );
  const scores = Float64Array.from(examples, (e) => raw.rawScore(e.prompt)).sort();
  const calibration = Array.from({ length: o.calibrationSteps + 1 }, (_, i) =>
    Math.fround(quantileSorted(scores, i / o.calibrationSteps)),
  );

  const body: Omit<DifficultyModelFile, 'checksum'> = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    name: o.name,
    featureSet: {
      id: featureSetId(),
      version: FEATURE_SET.version,
      hashBits: FEATURE_SET.hashBits,
      dense: [...DENSE_FEATURES],
    },
    training: {
      examples: n,
      label: o.label,
      l2: o.l2,
      epochs: o.epochs,
      learningRate: o.learningRate,
      hashedRate: o.hashedRate,
      lengthPrior: o.lengthPrior,
      seed: o.seed,
    },
    bias: biasOut,
    dense,
    hashed: { indices: encodeInt32(indices), weights: encodeFloat32(weights) },
    calibration,
  };
  return { ...body, checksum: modelChecksum(body) };
}

/** The file as written to disk: stable key order, one trailing newline. */
export function serializeModel(model: AnyDifficultyModelFile): string {
  return `${JSON.stringify(model)}\n`;
}
