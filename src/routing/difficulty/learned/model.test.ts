import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../../random.js';
import { loadExamples, type Example } from './dataset.js';
import { SHIPPED_MODEL_URL, shippedDifficultyModel } from './index.js';
import { routerMetrics } from './metrics.js';
import {
  MAX_MODEL_BYTES,
  difficultyModelFromJson,
  loadDifficultyModel,
  modelChecksum,
  type DifficultyModelFile,
  type DifficultyModelFileV2,
} from './model.js';
import { serializeModel, trainDifficultyModel } from './train.js';
import { domainOf } from './domains.js';
import {
  SHIPPED_RECIPE_V2,
  fitWeightsV2,
  trainDifficultyModelV2,
  type TrainOptionsV2,
} from './train-v2.js';

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

describe('training (feature set v1, still loadable)', () => {
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

describe('validation on load (format 1)', () => {
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
    expect(() => difficultyModelFromJson({ ...good, formatVersion: 3 }, 'm.json')).toThrow(
      /^m\.json: not a difficulty model: formatVersion: must be 1 \(feature set v1\) or 2/,
    );
    // A format-1 body labelled format 2 is checked as format 2, and refused.
    expect(() => difficultyModelFromJson({ ...good, formatVersion: 2 }, 'm.json')).toThrow(
      /^m\.json: not a difficulty model: /,
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

/** Word problems where more quantities (and so more steps) need the strong model. */
function syntheticV2(n: number, seed: number): Example[] {
  const rng = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const steps = 1 + Math.floor(rng() * 6);
    const parts = Array.from(
      { length: steps },
      (_, k) => `then she buys ${k + 2 + Math.floor(rng() * 20)} apples at ${1 + k} dollars each`,
    );
    const hard = steps >= 4 ? rng() < 0.8 : rng() < 0.1;
    const prompt = `Question ${i}: Mia starts with 5 apples, ${parts.join(', ')}. How many dollars does she spend?`;
    return {
      prompt,
      weak: hard ? 0 : 1,
      strong: 1,
      group: i % 2 === 0 ? 'gsm8k' : 'mmlu_nutrition',
    };
  });
}

describe('training and validation (format 2, feature set v2)', () => {
  const trainV2 = syntheticV2(600, 1);
  const v2: Partial<TrainOptionsV2> = { name: 'test-v2' };
  const good = trainDifficultyModelV2(trainV2, v2);
  const resigned = (m: Omit<DifficultyModelFileV2, 'checksum'>) => ({
    ...m,
    checksum: modelChecksum(m),
  });

  test('reproducible byte for byte, and learns from the kind of prompt on held-out prompts', () => {
    expect(serializeModel(trainDifficultyModelV2(trainV2, v2))).toBe(serializeModel(good));
    const model = difficultyModelFromJson(JSON.parse(serializeModel(good)));
    expect(model.name).toBe('test-v2');
    const test = syntheticV2(400, 2);
    const m = routerMetrics(
      test.map((e) => model.score(e.prompt)),
      test,
    );
    // Random is 0.5; "steps ≥ 4" decides only 80% against 10% of the outcomes, so the best is about 0.8.
    expect(m.apgr).toBeGreaterThan(0.65);
  });

  test('scores are calibrated to 0..1 shares of the training prompts', () => {
    const model = difficultyModelFromJson(good);
    const scores = trainV2.map((e) => model.score(e.prompt));
    const above = scores.filter((s) => s >= 0.5).length / scores.length;
    expect(above).toBeGreaterThan(0.35);
    expect(above).toBeLessThan(0.65);
  });

  test('an edited weight, another feature set, wrong shapes are refused with the reason', () => {
    expect(() => difficultyModelFromJson({ ...good, bias: 1 }, 'm.json')).toThrow(
      /^m\.json: checksum mismatch .* corrupt or was edited/,
    );
    const other = resigned({ ...good, featureSet: { ...good.featureSet, id: 'fs2-deadbeef' } });
    expect(() => difficultyModelFromJson(other, 'm.json')).toThrow(
      /trained for feature set fs2-deadbeef, this build computes fs2-[0-9a-f]{8}: retrain it/,
    );
    const short = resigned({ ...good, dense: good.dense.slice(1) });
    expect(() => difficultyModelFromJson(short, 'm.json')).toThrow(/dense features do not match/);
    const v3 = { ...good, featureSet: { ...good.featureSet, version: 3 } };
    expect(() => difficultyModelFromJson(v3, 'm.json')).toThrow(
      /not a difficulty model: featureSet\.version/,
    );
    const hashed = { ...good, hashed: { indices: '', weights: '' } };
    expect(() => difficultyModelFromJson(hashed, 'm.json')).toThrow(/not a difficulty model/);
    const decreasing = resigned({ ...good, calibration: [1, 0] });
    expect(() => difficultyModelFromJson(decreasing, 'm.json')).toThrow(/must not decrease/);
    expect(good.quantitative).toHaveLength(good.dense.length);
    const shortQuantitative = resigned({ ...good, quantitative: [1, 2] });
    expect(() => difficultyModelFromJson(shortQuantitative, 'm.json')).toThrow(
      /2 quantitative weights, \d+ expected/,
    );
  });

  test('without the quantitative gate the file has no quantitative weights, and scores the same way', () => {
    const plain = trainDifficultyModelV2(trainV2, { ...v2, gate: 'none' });
    expect(plain).not.toHaveProperty('quantitative');
    const model = difficultyModelFromJson(plain);
    const scores = trainV2.map((e) => model.score(e.prompt));
    expect(scores.filter((s) => s >= 0.5).length / scores.length).toBeGreaterThan(0.35);
  });
});

test('bagging over domains: the mean of the fits with each domain left out in turn; with two domains, the plain fit', () => {
  const groups = ['gsm8k', 'mmlu_nutrition', 'mmlu_philosophy'];
  const three = syntheticV2(600, 3).map((e, i) => ({ ...e, group: groups[i % 3] as string }));
  const plain: Partial<TrainOptionsV2> = { bag: false };
  const bagged = fitWeightsV2(three, { bag: true });
  const folds = groups.map((g) =>
    fitWeightsV2(
      three.filter((e) => domainOf(e.group) !== domainOf(g)),
      plain,
    ),
  );
  bagged.forEach((w, j) =>
    expect(w).toBeCloseTo(folds.reduce((s, f) => s + (f[j] as number), 0) / folds.length, 9),
  );
  expect(Array.from(bagged)).not.toEqual(Array.from(fitWeightsV2(three, plain)));
  const two = syntheticV2(300, 4);
  expect(fitWeightsV2(two, { bag: true })).toEqual(fitWeightsV2(two, plain));
});

test.each(['pairwise', 'screened'] as const)(
  'the %s fit learns the kind of prompt too (held-out prompts)',
  (fit) => {
    const model = difficultyModelFromJson(
      trainDifficultyModelV2(syntheticV2(600, 1), { fit, name: `test-${fit}` }),
    );
    const test = syntheticV2(400, 2);
    const m = routerMetrics(
      test.map((e) => model.score(e.prompt)),
      test,
    );
    expect(m.apgr).toBeGreaterThan(0.65);
  },
);

describe('the shipped model', () => {
  test('loads, validates, is at most 5 MB and scores in 0..1', () => {
    expect(statSync(SHIPPED_MODEL_URL).size).toBeLessThanOrEqual(MAX_MODEL_BYTES);
    const model = shippedDifficultyModel();
    expect(model.name).toBe('difficulty-v2.1');
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

  test('model-v1.json beside it still loads (for --difficulty-model users)', () => {
    const v1 = loadDifficultyModel(new URL('./model-v1.json', SHIPPED_MODEL_URL));
    expect(v1.name).toBe('difficulty-v1');
    expect(v1.score('Prove that there are infinitely many primes.')).toBeGreaterThanOrEqual(0);
  });

  test('its file is exactly what training stored (checksum)', () => {
    const file = JSON.parse(readFileSync(SHIPPED_MODEL_URL, 'utf8')) as DifficultyModelFileV2;
    expect(modelChecksum(file)).toBe(file.checksum);
  });

  // The two prompts of issue 12 that v1 scored the wrong way round (0.858 and 0.126).
  test('a long chatty question goes to the cheap tier, a proof request to the strong one', () => {
    const model = shippedDifficultyModel();
    const chatty =
      "Hey there! Hope you're having a lovely day. I was chatting with a friend over coffee this " +
      'morning and we got into a silly little debate, nothing serious, just curious. Anyway, I ' +
      "figured I'd ask you since you always seem to know these things. So here goes, and thanks " +
      'so much in advance for humoring me: what is the capital of France? I am pretty sure I ' +
      "know, but I'd love to hear it from you. Thanks again!";
    expect(chatty.length).toBeGreaterThanOrEqual(400);
    expect(model.score(chatty)).toBeLessThan(0.3);
    expect(model.score("Prove Fermat's Last Theorem for n=4.")).toBeGreaterThan(0.7);
  });
});

test('in the shipped model, asking for a proof or code raises a prompt, chit-chat lowers it (seeded)', () => {
  const model = shippedDifficultyModel();
  const rng = seededRandom(21);
  const words = ['the', 'river', 'market', 'policy', 'engine', 'price', 'city', 'report', 'team'];
  for (let k = 0; k < 200; k++) {
    const length = 5 + Math.floor(rng() * 60);
    const body = Array.from({ length }, () => words[Math.floor(rng() * words.length)]).join(' ');
    const base = model.rawScore(`${body}.`);
    expect(model.rawScore(`Prove that ${body}.`)).toBeGreaterThan(base);
    expect(model.rawScore(`Write a Python function: ${body}.`)).toBeGreaterThan(base);
    expect(model.rawScore(`Hey, thanks! ${body}.`)).toBeLessThan(base);
    expect(model.rawScore(`Write a poem: ${body}.`)).toBeLessThan(base);
  }
});

// The shipped file is what `modelroute router train` makes from the RouteLLM data:
//   D=../shared/data/routellm; modelroute router train --data $D/mmlu $D/gsm8k \
//     --exclude $D/mmlu/contaminated_prompts.jsonl $D/gsm8k/contaminated_prompts.jsonl \
//     --weak mistralai/Mixtral-8x7B-Instruct-v0.1 --strong gpt-4-1106-preview --name difficulty-v2.1 \
//     --out src/routing/difficulty/learned/model-v2.json
const DATA = new URL('../../../../../shared/data/routellm/', import.meta.url).pathname;
const haveData = existsSync(join(DATA, 'mmlu'));
if (!haveData)
  process.stderr.write(
    `model.test: no RouteLLM data at ${DATA}: skipping the check that retraining reproduces the shipped model\n`,
  );
(haveData ? test : test.skip)(
  'retraining with the recipe recorded in the shipped file reproduces it (same checksum)',
  () => {
    const shipped = JSON.parse(readFileSync(SHIPPED_MODEL_URL, 'utf8')) as DifficultyModelFileV2;
    const csvs = (dir: string) =>
      readdirSync(join(DATA, dir))
        .filter((f) => f.endsWith('.csv'))
        .sort()
        .map((f) => join(DATA, dir, f));
    const { examples } = loadExamples(
      [...csvs('mmlu'), ...csvs('gsm8k')],
      { weak: 'mistralai/Mixtral-8x7B-Instruct-v0.1', strong: 'gpt-4-1106-preview' },
      [
        join(DATA, 'mmlu/contaminated_prompts.jsonl'),
        join(DATA, 'gsm8k/contaminated_prompts.jsonl'),
      ],
    );
    const { examples: n, ...recipe } = shipped.training;
    expect(n).toBe(examples.length);
    // The recipe in the file is the one the code ships (bench/router-v2-select.ts chose it).
    expect({ ...recipe, seed: undefined }).toEqual({
      ...SHIPPED_RECIPE_V2,
      groups: [...SHIPPED_RECIPE_V2.groups],
    });
    const again = trainDifficultyModelV2(examples, {
      ...(recipe as Partial<TrainOptionsV2>),
      name: shipped.name,
    });
    expect(again.checksum).toBe(shipped.checksum);
  },
);
