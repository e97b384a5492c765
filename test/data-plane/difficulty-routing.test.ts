// Cost-quality routing end to end: the shipped difficulty model scores the
// prompt in the proxy, and the response says the score, threshold and tier.
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { shippedModelVariant } from '../../src/routing/difficulty/learned/__fixtures__/model-variant.js';
import {
  difficultyModelFromJson,
  shippedDifficultyModel,
} from '../../src/routing/difficulty/learned/index.js';
import { ADMIN_TOKEN, route, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { eventually } from '../support/eventually.js';
import { createTracing } from '../../src/telemetry/tracing.js';

const backends = [
  {
    name: 'mini',
    spec: { quality: 0.5, pricing: { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
  },
  { name: 'big', spec: { quality: 0.95, pricing: { inputPerMillion: 2.5, outputPerMillion: 10 } } },
];
const refs = [{ name: 'mini' }, { name: 'big' }];

const EASY = 'hi';
// A proof request: the kind of task model v2 sends to the strong tier whatever its length.
const HARD = 'Prove that the square root of 2 is irrational, step by step.';

const byShare = () =>
  route('by-share', {
    rules: [
      { name: 'r', strategy: 'cost-quality', costQuality: { strongShare: 0.2 }, backendRefs: refs },
    ],
  });

let dp: DataPlane;
beforeAll(async () => {
  dp = await startDataPlane(backends, [
    route('by-threshold', {
      rules: [
        { name: 'r', strategy: 'cost-quality', costQuality: { threshold: 0.5 }, backendRefs: refs },
      ],
    }),
    byShare(),
    route('by-quality', { rules: [{ name: 'r', strategy: 'cost-quality', backendRefs: refs }] }),
  ]);
});
afterAll(() => dp.close());

async function ask(model: string, prompt: string, plane = dp) {
  const { response } = await plane.client.chat.completions
    .create({ model, messages: [{ role: 'user', content: prompt }] })
    .withResponse();
  return {
    difficulty: response.headers.get('x-modelroute-difficulty'),
    tier: response.headers.get('x-modelroute-tier'),
    threshold: response.headers.get('x-modelroute-threshold'),
    backend: response.headers.get('x-modelroute-backend'),
  };
}

test('the proxy scores with the shipped model and routes by the threshold', async () => {
  const model = shippedDifficultyModel();
  expect(model.score(EASY)).toBeLessThan(0.5);
  expect(model.score(HARD)).toBeGreaterThanOrEqual(0.5);

  expect(await ask('by-threshold', EASY)).toEqual({
    difficulty: model.score(EASY).toFixed(3),
    tier: 'cheap',
    threshold: '0.500',
    backend: 'default/mini',
  });
  expect(await ask('by-threshold', HARD)).toEqual({
    difficulty: model.score(HARD).toFixed(3),
    tier: 'strong',
    threshold: '0.500',
    backend: 'default/big',
  });
});

test('strongShare starts from the model calibration threshold (share 0.2 → 0.788), then calibrates live', async () => {
  const easy = await ask('by-share', EASY);
  expect(easy).toMatchObject({ tier: 'cheap', threshold: '0.788', backend: 'default/mini' });
});

test('the server span carries the score, the threshold used and the tier', async () => {
  const exporter = new InMemorySpanExporter();
  const plane = await startDataPlane(backends, [byShare()], {
    tracing: createTracing({ serviceName: 'test', exporter }),
  });
  try {
    const seen = await ask('by-share', HARD, plane);
    const server = exporter.getFinishedSpans().find((s) => s.name === 'POST /v1/chat/completions');
    expect(server?.attributes).toMatchObject({
      'modelroute.difficulty': expect.closeTo(Number(seen.difficulty), 3),
      'modelroute.threshold': expect.closeTo(Number(seen.threshold), 3),
      'modelroute.tier': seen.tier,
    });
  } finally {
    await plane.close();
  }
});

test('without a threshold: the cheapest backend whose quality suffices', async () => {
  expect(await ask('by-quality', EASY)).toMatchObject({
    tier: 'sufficient',
    backend: 'default/mini',
    threshold: null,
  });
});

test('--difficulty-model: the proxy scores with that file, and a replaced file swaps the model while serving', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'modelroute-model-'));
  const file = join(dir, 'model.json');
  const v1 = shippedModelVariant('ours-v1', -2);
  const v2 = shippedModelVariant('ours-v2', 2);
  writeFileSync(file, v1);
  const plane = await startDataPlane(
    backends,
    [
      route('by-threshold', {
        rules: [
          {
            name: 'r',
            strategy: 'cost-quality',
            costQuality: { threshold: 0.5 },
            backendRefs: refs,
          },
        ],
      }),
    ],
    { difficultyModelFile: file, difficultyModelPollMs: 20 },
  );
  try {
    const score = (json: string) =>
      difficultyModelFromJson(JSON.parse(json)).score(HARD).toFixed(3);
    expect((await ask('by-threshold', HARD, plane)).difficulty).toBe(score(v1));

    writeFileSync(`${file}.new`, v2);
    renameSync(`${file}.new`, file);
    await eventually(async () =>
      expect((await ask('by-threshold', HARD, plane)).difficulty).toBe(score(v2)),
    );
    const stats = (await (
      await fetch(`${plane.proxy.adminUrl}/admin/v1/stats`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      })
    ).json()) as { difficultyModel: unknown };
    expect(stats.difficultyModel).toMatchObject({ name: 'ours-v2', source: file });
    const metrics = await (await fetch(`${plane.proxy.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /^modelroute_difficulty_model_info\{name="ours-v2",checksum="sha256:[0-9a-f]{64}"\} 1$/m,
    );
  } finally {
    await plane.close();
  }
});
