// strongShare on live traffic, in local mode (`modelroute dev`): the proxy
// calibrates the threshold on the prompts it actually routes, so the share
// sent to the strong tier is the route's target whatever the traffic looks
// like to the model; every response shows the threshold it was decided with,
// and the admin stats carry the calibration the controller would merge.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startDevMode, type DevMode } from '../../src/proxy/local/dev-mode.js';
import { ScoreSketch } from '../../src/routing/difficulty/calibration/score-sketch.js';
import { seededRandom } from '../../src/routing/random.js';
import { createLogger } from '../../src/telemetry/logger.js';

const TOKEN = 'strong-share-admin-token-0123456789';
const TARGET = 0.25;
const REQUESTS = 400;

const MANIFESTS = `
apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: { name: mini }
spec:
  provider: openai-compatible
  endpoint: simulate://mini
  model: mini
  quality: 0.5
  pricing: { inputPerMillion: 0.15, outputPerMillion: 0.6 }
---
apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: { name: big }
spec:
  provider: openai-compatible
  endpoint: simulate://big
  model: big
  quality: 0.95
  pricing: { inputPerMillion: 2.5, outputPerMillion: 10 }
---
apiVersion: modelroute.io/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  rules:
    - name: by-share
      strategy: cost-quality
      costQuality: { strongShare: ${TARGET} }
      backendRefs: [{ name: mini }, { name: big }]
`;

/**
 * Seeded prompts of mixed kinds and lengths: chit-chat, facts, arithmetic,
 * proofs, code. model-v1 scores none of them ≥ 0.75, so the table's fixed
 * threshold for 0.25 would have sent none to the strong tier.
 */
function prompts(count: number, seed: number): string[] {
  const rng = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)] as T;
  const kinds = [
    () => pick(['hi', 'thanks!', 'good morning', 'how are you today?']),
    () => `What is the capital of ${pick(['France', 'Peru', 'Japan', 'Kenya'])}?`,
    () =>
      `A shop sells ${Math.floor(rng() * 90) + 10} apples at $${(rng() * 3).toFixed(2)} each and ` +
      `buys them at half price. After paying $${Math.floor(rng() * 40)} rent, what is the profit? Show each step.`,
    () => `Prove that the sum of the first ${Math.floor(rng() * 50) + 2} odd numbers is a square.`,
    () =>
      `Write a TypeScript function that ${pick(['merges sorted arrays', 'parses CSV with quotes', 'finds cycles in a graph'])}` +
      `, with tests, handling ${pick(['empty input', 'unicode', 'very large inputs'])}.`,
  ];
  return Array.from({ length: count }, () => pick(kinds)());
}

let dev: DevMode;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'modelroute-share-'));
  writeFileSync(join(dir, 'route.yaml'), MANIFESTS);
  dev = await startDevMode({
    configPaths: [dir],
    simulateAll: false,
    adminToken: { value: TOKEN },
    logger: createLogger({ level: 'error', write: () => {} }),
  });
});
afterAll(() => dev.close());

test('local mode holds the route’s strongShare on mixed traffic and shows the live threshold', async () => {
  const client = new OpenAI({ baseURL: `${dev.proxy.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 });
  const seen: Array<{ difficulty: number; threshold: number; tier: string; backend: string }> = [];
  for (const content of prompts(REQUESTS, 21)) {
    const { response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content }] })
      .withResponse();
    const header = (name: string) => response.headers.get(name) ?? 'missing';
    expect(header('x-modelroute-threshold')).toMatch(/^[01]\.\d{3}$/);
    seen.push({
      difficulty: Number(header('x-modelroute-difficulty')),
      threshold: Number(header('x-modelroute-threshold')),
      tier: header('x-modelroute-tier'),
      backend: header('x-modelroute-backend'),
    });
  }

  // Each decision is the threshold's (3-decimal headers: allow one step of rounding).
  for (const s of seen) {
    if (s.tier === 'strong') expect(s.difficulty).toBeGreaterThanOrEqual(s.threshold - 0.001);
    else expect(s.difficulty).toBeLessThanOrEqual(s.threshold + 0.001);
    expect(s.backend).toBe(s.tier === 'strong' ? 'default/big' : 'default/mini');
  }
  const strong = seen.filter((s) => s.tier === 'strong').length;
  expect(Math.abs(strong / REQUESTS - TARGET)).toBeLessThanOrEqual(0.03);
  // The threshold moved with the traffic: it is live, not the table's fixed one.
  expect(new Set(seen.map((s) => s.threshold)).size).toBeGreaterThan(10);

  const stats = (await (
    await fetch(`${dev.proxy.adminUrl}/admin/v1/stats`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
  ).json()) as { calibration: Array<Record<string, unknown>> };
  expect(stats.calibration).toEqual([
    {
      routeId: 'default/chat',
      rule: 'by-share',
      targetStrongShare: TARGET,
      threshold: expect.any(Number),
      decisions: REQUESTS,
      strong,
      sketch: { bins: 256, weights: expect.any(Array) },
    },
  ]);
  // The sketch is the traffic seen (decayed), parseable by the controller's schema.
  const sketch = ScoreSketch.fromWire(stats.calibration[0]?.sketch);
  expect(sketch.total).toBeGreaterThan(200);
  expect(sketch.total).toBeLessThan(REQUESTS);
});
