// Cost of scoring one prompt's difficulty: the learned model against the
// heuristic, interleaved in the same run, with microsecond resolution.
// Prints JSON; never a pass/fail test. Run: npm run bench:router (--quick: CI sizes)
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { scoreDifficulty as heuristic } from '../src/routing/difficulty/heuristic.js';
import { shippedDifficultyModel } from '../src/routing/difficulty/learned/index.js';
import { seededRandom } from '../src/routing/random.js';
import { benchFlags } from './flags.js';

const { quick } = benchFlags('bench/router-latency.ts');
const ROUNDS = quick ? 200 : Number(process.env.ROUNDS ?? 20_000);
const WARMUP = quick ? 20 : 2_000;

// Mixed prose, code and math, so every branch of the scanner runs.
const PIECES = [
  'Explain why the service times out under load and how to fix it. ',
  'The function below merges two sorted arrays; analyse its complexity step by step. ',
  '```ts\nfunction merge(a: number[], b: number[]) { let i = 0, j = 0; const out = []; }\n```\n',
  'Let $f(x) = x^2 + 3x - 4$. Solve f(x) = 0 and prove the roots are real. ',
  '1. Compare the two designs.\n2. Which one scales to 10,000 requests per second?\n',
  'Janet buys 16 eggs at $2 each and sells 9 of them for $3. How much profit does she make? ',
];

/** A prompt of about `tokens` o200k tokens, different per variant so no cache can help. */
function promptOf(tokens: number, variant: number): string {
  const rng = seededRandom(variant + 1);
  let text = '';
  while (encode(text).length < tokens) text += PIECES[Math.floor(rng() * PIECES.length)];
  return text;
}

function percentiles(ns: readonly number[]): {
  p50: number;
  p90: number;
  p99: number;
  max: number;
} {
  const us = ns.map((x) => x / 1000).sort((a, b) => a - b);
  const at = (q: number) =>
    Number((us[Math.min(us.length - 1, Math.floor(q * us.length))] as number).toFixed(2));
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: Number((us.at(-1) as number).toFixed(2)),
  };
}

const learned = shippedDifficultyModel();
const sizes = [50, 500, 2_000];
const results: Record<string, unknown> = {};
let sink = 0;
for (const size of sizes) {
  const prompts = Array.from({ length: 16 }, (_, v) => promptOf(size, v));
  const scorers = { learned: learned.score, heuristic } as const;
  const times = { learned: [] as number[], heuristic: [] as number[] };
  for (let r = 0; r < WARMUP + ROUNDS; r++) {
    const prompt = prompts[r % prompts.length] as string;
    // Alternate which goes first, so drift and cache effects hit both alike.
    const order =
      r % 2 === 0 ? (['learned', 'heuristic'] as const) : (['heuristic', 'learned'] as const);
    for (const name of order) {
      const t0 = process.hrtime.bigint();
      sink += scorers[name](prompt);
      const dt = Number(process.hrtime.bigint() - t0);
      if (r >= WARMUP) times[name].push(dt);
    }
  }
  results[`${size}_tokens`] = {
    chars: Math.round(prompts.reduce((a, p) => a + p.length, 0) / prompts.length),
    learned_us: percentiles(times.learned),
    heuristic_us: percentiles(times.heuristic),
  };
}
process.stdout.write(
  `${JSON.stringify({ benchmark: 'difficulty-scoring', quick, model: learned.name, rounds: ROUNDS, node: process.version, results, checksum: Number(sink.toFixed(3)) }, null, 2)}\n`,
);
