import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../../random.js';
import type { Example } from './dataset.js';
import { SHIPPED_MODEL_URL, shippedDifficultyModel } from './index.js';
import { routerMetrics } from './metrics.js';
import {
  MAX_MODEL_BYTES,
  difficultyModelFromJson,
  loadDifficultyModel,
  modelChecksum,
  type DifficultyModelFile,
} from './model.js';
import { serializeModel, trainDifficultyModel } from './train.js';

const TOPICS = ['tax law', 'organic chemistry', 'number theory', 'poetry', 'geography', 'cooking'];

/** Prompts where "number theory" and long prompts need the strong model; the rest do not. */
function synthetic(n: number, seed: number): Example[] {
  const rng = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const topic = TOPICS[Math.floor(rng() * TOPICS.length)] as string;
    const long = rng() < 0.3;
    const hard = topic === 'number theory' || (long && rng() < 0.5);
    const prompt = `Question ${i} about ${topic}: ${'explain the details carefully. '.repeat(long ? 12 : 1)}`;
    return { prompt, weak: hard ? 0 : 1, strong: 1, group: topic };
  });
}

const train = synthetic(600, 1);
const options = { epochs: 3, name: 'test-model', seed: 4 };

describe('training', () => {
  test('bit-for-bit reproducible: same data, options and seed → same bytes', () => {
    const a = serializeModel(trainDifficultyModel(train, options));
    const b = serializeModel(trainDifficultyModel(train, options));
    expect(a).toBe(b);
    expect(serializeModel(trainDifficultyModel(train, { ...options, seed: 5 }))).not.toBe(a);
  });

  test('the seed comes from the injected RNG when one is given', () => {
    const a = serializeModel(trainDifficultyModel(train, options, seededRandom(99)));
    const b = serializeModel(trainDifficultyModel(train, options, seededRandom(99)));
    expect(a).toBe(b);
  });

  test('learns what makes a prompt need the strong model, on held-out prompts', () => {
    const model = difficultyModelFromJson(trainDifficultyModel(train, options));
    const test = synthetic(400, 2);
    const m = routerMetrics(
      test.map((e) => model.score(e.prompt)),
      test,
    );
    expect(m.apgr).toBeGreaterThan(0.75);
  });

  test('scores are calibrated to 0..1 shares of the training prompts', () => {
    const model = difficultyModelFromJson(trainDifficultyModel(train, options));
    const scores = train.map((e) => model.score(e.prompt));
    for (const s of scores) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
    const above = scores.filter((s) => s >= 0.7).length / scores.length;
    expect(above).toBeGreaterThan(0.2);
    expect(above).toBeLessThan(0.4);
  });

  test('refuses to train on nothing', () => {
    expect(() => trainDifficultyModel([], options)).toThrow(/no examples/);
  });
});

describe('validation on load', () => {
  const good = trainDifficultyModel(train, options);
  const resigned = (m: Omit<DifficultyModelFile, 'checksum'>) => ({
    ...m,
    checksum: modelChecksum(m),
  });

  test('a good file loads', () => {
    expect(difficultyModelFromJson(JSON.parse(serializeModel(good))).name).toBe('test-model');
  });

  test('an edited weight breaks the checksum', () => {
    const edited = { ...good, bias: good.bias + 1 };
    expect(() => difficultyModelFromJson(edited, 'm.json')).toThrow(
      /^m\.json: checksum mismatch .* corrupt or was edited/,
    );
  });

  test('a model for another feature set is refused with what to do', () => {
    const other = resigned({ ...good, featureSet: { ...good.featureSet, id: 'fs0-deadbeef' } });
    expect(() => difficultyModelFromJson(other, 'm.json')).toThrow(
      /trained for feature set fs0-deadbeef .* retrain it/,
    );
  });

  test('another format version, missing fields and wrong shapes are refused', () => {
    expect(() => difficultyModelFromJson({ ...good, formatVersion: 2 }, 'm.json')).toThrow(
      /^m\.json: not a difficulty model: formatVersion/,
    );
    const { calibration: _c, ...noCalibration } = good;
    expect(() => difficultyModelFromJson(noCalibration, 'm.json')).toThrow(/calibration/);
    const short = resigned({ ...good, dense: good.dense.slice(1) });
    expect(() => difficultyModelFromJson(short, 'm.json')).toThrow(/dense features do not match/);
    const badIndices = resigned({ ...good, hashed: { ...good.hashed, indices: 'AAA=' } });
    expect(() => difficultyModelFromJson(badIndices, 'm.json')).toThrow(
      /whole number of 4-byte values|hashed indices/,
    );
    const decreasing = resigned({ ...good, calibration: [1, 0] });
    expect(() => difficultyModelFromJson(decreasing, 'm.json')).toThrow(/must not decrease/);
  });

  test('files that are not JSON, missing or too large are refused with the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'difficulty-model-'));
    writeFileSync(join(dir, 'truncated.json'), serializeModel(good).slice(0, 200));
    expect(() => loadDifficultyModel(join(dir, 'truncated.json'))).toThrow(
      /truncated\.json: not valid JSON/,
    );
    expect(() => loadDifficultyModel(join(dir, 'missing.json'))).toThrow(
      /missing\.json: cannot read/,
    );
    writeFileSync(join(dir, 'huge.json'), ' '.repeat(MAX_MODEL_BYTES + 1));
    expect(() => loadDifficultyModel(join(dir, 'huge.json'))).toThrow(
      /over the 5242880-byte limit/,
    );
  });
});

describe('the shipped model', () => {
  test('loads, validates, is at most 5 MB and scores in 0..1', () => {
    expect(statSync(SHIPPED_MODEL_URL).size).toBeLessThanOrEqual(MAX_MODEL_BYTES);
    const model = shippedDifficultyModel();
    expect(model.name).toBe('difficulty-v1');
    for (const p of [
      '',
      'hi',
      'Prove that there are infinitely many primes.',
      'x'.repeat(100_000),
    ]) {
      const s = model.score(p);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
    // A multi-step word problem is harder than a greeting.
    expect(
      model.score(
        'A train leaves at 3 pm at 60 mph; a second leaves at 4 pm at 80 mph. When does it catch up?',
      ),
    ).toBeGreaterThan(model.score('hello'));
  });

  test('its file is exactly what training stored (checksum)', () => {
    const file = JSON.parse(readFileSync(SHIPPED_MODEL_URL, 'utf8')) as DifficultyModelFile;
    expect(modelChecksum(file)).toBe(file.checksum);
  });
});
