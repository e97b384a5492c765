// The proxy bench's route sends its prompt to the backend it claims, whatever
// a difficulty model scores that prompt: the threshold follows the score.
import { shippedDifficultyModel } from '../routing/difficulty/learned/index.js';
import { factsFromHeaders } from '../routing/facts.js';
import { prepareTable } from '../routing/prepared-table.js';
import { seededRandom } from '../routing/random.js';
import { selectBackends } from '../routing/select.js';
import type { DifficultyScorer } from '../routing/difficulty/types.js';
import {
  BENCH_MODEL,
  CLIENT_HEADERS,
  EXPECTED_BACKEND,
  MAX_PROMPT_DIFFICULTY,
  benchPromptText,
  benchTable,
  difficultyPlan,
} from './route-table.js';

/** The backend the proxy would try first for the bench request, scoring with `score`. */
function firstBackend(score: DifficultyScorer): string {
  const { threshold } = difficultyPlan(score);
  const table = prepareTable(benchTable('http://127.0.0.1:9', threshold));
  const prompt = benchPromptText();
  const facts = factsFromHeaders({
    model: BENCH_MODEL,
    headers: { ...CLIENT_HEADERS },
    promptTokens: () => 80,
    difficulty: () => score(prompt),
  });
  const decision = selectBackends(table, facts, {
    rng: seededRandom(1),
    live: { available: () => true, latencyMs: () => undefined, inFlight: () => 0 },
  });
  if (!decision.ok) throw new Error(`no decision: ${decision.error.message}`);
  return decision.attempts[0]?.backend.id ?? '(none)';
}

test('with the shipped difficulty model, the bench prompt goes to the cheap backend', () => {
  expect(firstBackend(shippedDifficultyModel().score)).toBe(EXPECTED_BACKEND);
});

test('whatever a model scores the prompt (up to the limit), the bench prompt goes to the cheap backend', () => {
  const rng = seededRandom(13);
  const scores = [0, 0.5, 0.6, 0.634, MAX_PROMPT_DIFFICULTY];
  for (let i = 0; i < 500; i++) scores.push(rng() * MAX_PROMPT_DIFFICULTY);
  for (const s of scores) {
    const plan = difficultyPlan(() => s);
    expect(plan.threshold).toBeGreaterThan(s);
    expect(plan.threshold).toBeLessThanOrEqual(1);
    expect({ score: s, backend: firstBackend(() => s) }).toEqual({
      score: s,
      backend: EXPECTED_BACKEND,
    });
  }
});

test('a model that finds the prompt hard stops the bench, saying what to change', () => {
  expect(() => difficultyPlan(() => 0.99)).toThrow(
    /scores the bench prompt 0\.990, above 0\.98: .*change the prompt in src\/bench\/route-table\.ts/,
  );
  expect(() => difficultyPlan(() => Number.NaN)).toThrow(
    /outside 0\.\.1: the model file is broken/,
  );
});

test('the scorer sees the prompt text the proxy extracts (system and user messages)', () => {
  const seen: string[] = [];
  difficultyPlan((text) => {
    seen.push(text);
    return 0.1;
  });
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatch(/^You are a concise assistant.*\n.*returns policy/s);
});
