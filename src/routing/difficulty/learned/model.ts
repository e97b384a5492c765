// The learned difficulty model as a file: a versioned JSON document, checked
// in full on load (format, feature set, shapes, checksum), and the scorer
// built from it. A file that fails any check is refused with the reason.
// Two formats load: 1 (feature set v1: dense shape features and hashed word
// n-grams) and 2 (feature set v2: task-kind features only, no hashing).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CALIBRATION_TAIL } from '../calibration/prior.js';
import type { DifficultyScorer } from '../types.js';
import {
  DENSE_FEATURES,
  FEATURE_SET,
  FeatureBuffer,
  extractFeatures,
  featureSetId,
} from './features.js';
import {
  DENSE_FEATURES_V2,
  FEATURE_SET_V2,
  FeatureBufferV2,
  extractFeaturesV2,
  featureSetIdV2,
  quantitativeGate,
} from './features-v2.js';

export const MODEL_FORMAT = 'modelroute.io/difficulty-model';
export const MODEL_FORMAT_VERSION = 1;
/** Format of files trained on feature set v2. */
export const MODEL_FORMAT_VERSION_V2 = 2;
/** Files above this are refused before parsing. */
export const MAX_MODEL_BYTES = 5 * 1024 * 1024;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

export const difficultyModelFile = z.strictObject({
  format: z.literal(MODEL_FORMAT),
  formatVersion: z.literal(MODEL_FORMAT_VERSION),
  /** The model's own version, e.g. `difficulty-v1`; shown in logs. */
  name: z.string().min(1),
  featureSet: z.strictObject({
    id: z.string().min(1),
    version: z.int().min(1),
    hashBits: z.int().min(8).max(24),
    dense: z.array(z.string()),
  }),
  /** How the model was trained (informative; not used for scoring). */
  training: z.record(z.string(), z.unknown()),
  bias: finite,
  dense: z.array(finite),
  hashed: z.strictObject({
    /** Bucket indices, ascending, as little-endian int32, base64. */
    indices: base64,
    /** One float32 weight per index, little-endian, base64. */
    weights: base64,
  }),
  /**
   * Raw scores at evenly spaced quantiles (0, 1/k, …, 1) of the training
   * prompts: scores are mapped through them, so a score of x means harder
   * than a share x of those prompts (and `strongShare` s ≈ threshold 1 − s).
   */
  calibration: z.array(finite).min(2),
  /** sha256 of everything above (canonical JSON without this field). */
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});
export type DifficultyModelFile = z.infer<typeof difficultyModelFile>;

/** Format 2: a linear model on feature set v2 (features-v2.ts), with the same calibration and checksum. */
export const difficultyModelFileV2 = z.strictObject({
  format: z.literal(MODEL_FORMAT),
  formatVersion: z.literal(MODEL_FORMAT_VERSION_V2),
  name: z.string().min(1),
  featureSet: z.strictObject({
    id: z.string().min(1),
    version: z.literal(FEATURE_SET_V2.version),
    dense: z.array(z.string()),
  }),
  training: z.record(z.string(), z.unknown()),
  bias: finite,
  /** One weight per feature of `featureSet.dense`, per raw feature value. */
  dense: z.array(finite),
  /** Weights added to `dense` for prompts quantitativeGate admits (features-v2.ts), if the model has them. */
  quantitative: z.array(finite).optional(),
  calibration: z.array(finite).min(2),
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});
export type DifficultyModelFileV2 = z.infer<typeof difficultyModelFileV2>;

/** Any file this build loads. */
export type AnyDifficultyModelFile = DifficultyModelFile | DifficultyModelFileV2;

const formatHeader = z.object({
  format: z.literal(MODEL_FORMAT),
  formatVersion: z.union([z.literal(MODEL_FORMAT_VERSION), z.literal(MODEL_FORMAT_VERSION_V2)], {
    error: `must be ${MODEL_FORMAT_VERSION} (feature set v1) or ${MODEL_FORMAT_VERSION_V2} (feature set v2)`,
  }),
});

export function modelChecksum(
  model: Omit<AnyDifficultyModelFile, 'checksum'> | AnyDifficultyModelFile,
): string {
  const { checksum: _ignored, ...rest } = model as AnyDifficultyModelFile;
  return `sha256:${createHash('sha256').update(JSON.stringify(rest)).digest('hex')}`;
}

export function encodeInt32(values: ArrayLike<number>): string {
  const a = Int32Array.from(values);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function encodeFloat32(values: ArrayLike<number>): string {
  const a = Float32Array.from(values);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function decode<T extends Int32Array | Float32Array>(
  text: string,
  make: (buf: ArrayBuffer) => T,
  what: string,
): T {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength % 4 !== 0)
    throw new Error(`${what}: ${bytes.byteLength} bytes is not a whole number of 4-byte values`);
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return make(copy);
}

/** A validated model ready to score. */
export interface DifficultyModel {
  name: string;
  /** The file's checksum, when the model was loaded from one. */
  checksum?: string;
  /** The calibrated score, 0..1. */
  score: DifficultyScorer;
  /** The uncalibrated linear score (for training and evaluation). */
  rawScore: (prompt: string) => number;
  /**
   * Format 2 only: the calibrated score of features already extracted with
   * extractFeaturesV2, for a caller that needs the features too (a learning
   * rule keeps them for its labels) and should extract them once.
   */
  scoreFeatures?: (features: ArrayLike<number>) => number;
}

/** Thrown for any file that must not be used; the message says why and what to do. */
export class DifficultyModelError extends Error {
  override name = 'DifficultyModelError';
}

function notAModel(error: z.ZodError, source: string): DifficultyModelError {
  const issue = error.issues[0];
  const path = issue?.path.join('.') || '(root)';
  return new DifficultyModelError(`${source}: not a difficulty model: ${path}: ${issue?.message}`);
}

function checkCalibration(calibration: readonly number[], source: string): Float64Array {
  const knots = Float64Array.from(calibration);
  for (let i = 1; i < knots.length; i++)
    if ((knots[i] as number) < (knots[i - 1] as number))
      throw new DifficultyModelError(`${source}: calibration knots must not decrease (at ${i})`);
  return knots;
}

/** The dense weights match this build's features, and the content its checksum. */
function checkShapeAndChecksum(
  m: AnyDifficultyModelFile,
  features: readonly string[],
  source: string,
): void {
  if (m.dense.length !== features.length || m.featureSet.dense.join() !== features.join())
    throw new DifficultyModelError(
      `${source}: dense features do not match this build's (${features.length} expected)`,
    );
  const checksum = modelChecksum(m);
  if (checksum !== m.checksum)
    throw new DifficultyModelError(
      `${source}: checksum mismatch (file says ${m.checksum}, content is ${checksum}): the file is corrupt or was edited`,
    );
}

function modelV2FromJson(json: unknown, source: string): DifficultyModel {
  const parsed = difficultyModelFileV2.safeParse(json);
  if (!parsed.success) throw notAModel(parsed.error, source);
  const m = parsed.data;
  const expected = featureSetIdV2();
  if (m.featureSet.id !== expected)
    throw new DifficultyModelError(
      `${source}: trained for feature set ${m.featureSet.id}, this build computes ${expected}: retrain it with this version's \`modelroute router train\``,
    );
  checkShapeAndChecksum(m, DENSE_FEATURES_V2, source);
  if (m.quantitative !== undefined && m.quantitative.length !== DENSE_FEATURES_V2.length)
    throw new DifficultyModelError(
      `${source}: ${m.quantitative.length} quantitative weights, ${DENSE_FEATURES_V2.length} expected (one per dense feature)`,
    );
  const knots = checkCalibration(m.calibration, source);
  return {
    ...buildScorerV2(
      m.name,
      m.bias,
      Float64Array.from(m.dense),
      m.quantitative && Float64Array.from(m.quantitative),
      knots,
    ),
    checksum: m.checksum,
  };
}

/**
 * The v2 linear score of one prompt's features (`features[offset..]`): the
 * dense weights, plus the quantitative ones when the gate admits the prompt.
 * Training calibrates with this same function, so the knots match the scorer.
 */
export function linearScoreV2(
  dense: ArrayLike<number>,
  quantitative: ArrayLike<number> | undefined,
  features: ArrayLike<number>,
  offset = 0,
): number {
  let s = 0;
  for (let j = 0; j < dense.length; j++)
    s += (dense[j] as number) * (features[offset + j] as number);
  if (quantitative !== undefined && quantitativeGate(features, offset) === 1)
    for (let j = 0; j < quantitative.length; j++)
      s += (quantitative[j] as number) * (features[offset + j] as number);
  return s;
}

/** The v2 scorer: a dot product over the v2 features, then the calibration. */
export function buildScorerV2(
  name: string,
  bias: number,
  dense: Float64Array,
  quantitative: Float64Array | undefined,
  knots: Float64Array,
): DifficultyModel {
  const buffer = new FeatureBufferV2();
  const rawScore = (prompt: string): number => {
    extractFeaturesV2(prompt, buffer);
    return bias + linearScoreV2(dense, quantitative, buffer.dense);
  };
  return {
    name,
    rawScore,
    score: (prompt) => calibrate(rawScore(prompt), knots),
    scoreFeatures: (features) =>
      calibrate(bias + linearScoreV2(dense, quantitative, features), knots),
  };
}

/** Validates a parsed model document (format 1 or 2) and builds its scorer; throws DifficultyModelError. */
export function difficultyModelFromJson(
  json: unknown,
  source = 'difficulty model',
): DifficultyModel {
  const header = formatHeader.safeParse(json);
  if (!header.success) throw notAModel(header.error, source);
  if (header.data.formatVersion === MODEL_FORMAT_VERSION_V2) return modelV2FromJson(json, source);
  const parsed = difficultyModelFile.safeParse(json);
  if (!parsed.success) throw notAModel(parsed.error, source);
  const m = parsed.data;
  const expected = featureSetId();
  if (m.featureSet.id !== expected || m.featureSet.hashBits !== FEATURE_SET.hashBits) {
    throw new DifficultyModelError(
      `${source}: trained for feature set ${m.featureSet.id} (hashBits ${m.featureSet.hashBits}), this build computes ${expected} (hashBits ${FEATURE_SET.hashBits}): retrain it with this version's \`modelroute router train\``,
    );
  }
  checkShapeAndChecksum(m, DENSE_FEATURES, source);
  let indices: Int32Array;
  let weights: Float32Array;
  try {
    indices = decode(m.hashed.indices, (b) => new Int32Array(b), 'hashed.indices');
    weights = decode(m.hashed.weights, (b) => new Float32Array(b), 'hashed.weights');
  } catch (err) {
    throw new DifficultyModelError(`${source}: ${(err as Error).message}`);
  }
  if (indices.length !== weights.length)
    throw new DifficultyModelError(
      `${source}: ${indices.length} hashed indices but ${weights.length} weights`,
    );
  const size = 1 << FEATURE_SET.hashBits;
  const table = new Float32Array(size);
  let last = -1;
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i] as number;
    const w = weights[i] as number;
    if (!(index > last && index < size))
      throw new DifficultyModelError(
        `${source}: hashed index ${index} at ${i} is out of order or out of range`,
      );
    if (!Number.isFinite(w))
      throw new DifficultyModelError(`${source}: hashed weight ${i} is not finite`);
    table[index] = w;
    last = index;
  }
  const knots = checkCalibration(m.calibration, source);
  return {
    ...buildScorer(m.name, m.bias, Float64Array.from(m.dense), table, knots),
    checksum: m.checksum,
  };
}

/**
 * Maps a raw score to 0..1 through the quantile knots: piecewise linear onto
 * [CALIBRATION_TAIL, 1 − CALIBRATION_TAIL] inside their range, exponential
 * tails outside it. Traffic unlike the training prompts can score beyond the
 * outermost knots; clamping those to exactly 0 or 1 made them all tie, so no
 * threshold (and no live strongShare) could split them. In the end bands they
 * keep their order: x below the lowest knot lands at TAIL·e^(−x/spread), with
 * spread a quarter of the knots' range. Monotone.
 */
export function calibrate(raw: number, knots: Float64Array): number {
  const k = knots.length - 1;
  const first = knots[0] as number;
  const last = knots[k] as number;
  if (Number.isNaN(raw)) return 0;
  const spread = Math.max((last - first) / 4, 1e-9);
  if (raw <= first) return CALIBRATION_TAIL * Math.exp((raw - first) / spread);
  if (raw >= last) return 1 - CALIBRATION_TAIL * Math.exp((last - raw) / spread);
  let lo = 0;
  let hi = k;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((knots[mid] as number) <= raw) lo = mid;
    else hi = mid;
  }
  const a = knots[lo] as number;
  const b = knots[hi] as number;
  const inside = (lo + (b > a ? (raw - a) / (b - a) : 0)) / k;
  return CALIBRATION_TAIL + (1 - 2 * CALIBRATION_TAIL) * inside;
}

export function buildScorer(
  name: string,
  bias: number,
  dense: Float64Array,
  table: Float32Array,
  knots: Float64Array,
): DifficultyModel {
  const buffer = new FeatureBuffer();
  const rawScore = (prompt: string): number => {
    extractFeatures(prompt, buffer);
    let sparse = 0;
    const hashes = buffer.hashes;
    for (let i = 0; i < buffer.hashCount; i++) sparse += table[hashes[i] as number] as number;
    let s = bias + sparse * buffer.hashScale;
    const d = buffer.dense;
    for (let j = 0; j < dense.length; j++) s += (dense[j] as number) * (d[j] as number);
    return s;
  };
  return { name, rawScore, score: (prompt) => calibrate(rawScore(prompt), knots) };
}

/** Reads and validates a model file; throws DifficultyModelError with the path in the message. */
export function loadDifficultyModel(path: string | URL): DifficultyModel {
  const source = String(path instanceof URL ? path.pathname : path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DifficultyModelError(
      `${source}: cannot read the difficulty model: ${(err as Error).message}`,
    );
  }
  if (Buffer.byteLength(text) > MAX_MODEL_BYTES)
    throw new DifficultyModelError(
      `${source}: ${Buffer.byteLength(text)} bytes is over the ${MAX_MODEL_BYTES}-byte limit`,
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DifficultyModelError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  return difficultyModelFromJson(json, source);
}
