// The strongShare goal on real prompts: RouteLLM's MMLU and GSM8K results,
// scored by the shipped model (whichever it is), streamed in seeded random
// order, each set alone and mixed with a half-way change of composition.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../random.js';
import { loadExamples, type Example } from '../learned/dataset.js';
import { shippedDifficultyModel } from '../learned/index.js';
import {
  fixedThreshold,
  halfwayShift,
  replayStrongShare,
  shuffledStream,
  type ScoredOutcome,
} from './share-replay.js';
import { StrongShareCalibrator } from './strong-share-calibrator.js';

const DATA = new URL('../../../../../shared/data/routellm/', import.meta.url).pathname;
const HAVE_DATA = existsSync(join(DATA, 'mmlu'));
const COLUMNS = { weak: 'mistralai/Mixtral-8x7B-Instruct-v0.1', strong: 'gpt-4-1106-preview' };

function load(dir: string): ScoredOutcome[] {
  const files = readdirSync(join(DATA, dir))
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => join(DATA, dir, f));
  const { examples } = loadExamples(files, COLUMNS, [
    join(DATA, dir, 'contaminated_prompts.jsonl'),
  ]);
  const model = shippedDifficultyModel();
  return examples.map((e: Example) => ({
    score: model.score(e.prompt),
    weak: e.weak,
    strong: e.strong,
  }));
}

const name =
  'holds |realised − target| ≤ 0.03 in every 1,000-request window after 500 (MMLU, GSM8K, a half-way shift)';
(HAVE_DATA ? it : it.skip)(
  HAVE_DATA ? name : `${name}: skipped, no RouteLLM data at ${DATA}`,
  () => {
    const mmlu = load('mmlu');
    const gsm8k = load('gsm8k');
    const results: Array<{
      stream: string;
      target: number;
      live: number | null;
      fixed: number | null;
    }> = [];
    for (const target of [0.1, 0.2, 0.5]) {
      const rng = seededRandom(Math.round(target * 100));
      const streams = {
        mmlu: shuffledStream(mmlu, rng),
        // GSM8K is ~1,300 prompts: shuffled passes make a stream long enough for windows.
        gsm8k: shuffledStream(gsm8k, rng, 5_000),
        'mmlu 80/20 → 20/80 gsm8k': halfwayShift(mmlu, gsm8k, rng, 8_000, 0.8, 0.2),
      };
      for (const [stream, items] of Object.entries(streams)) {
        const options = { targetStrongShare: target };
        const calibrator = new StrongShareCalibrator({
          targetStrongShare: target,
          fleetThreshold: 1 - target,
        });
        results.push({
          stream,
          target,
          live: replayStrongShare(items, calibrator, options).max_window_error,
          fixed: replayStrongShare(items, fixedThreshold(1 - target), options).max_window_error,
        });
      }
    }
    expect(results.filter((r) => r.live === null || r.live > 0.03)).toEqual([]);
    // The baseline this replaces does miss somewhere (else the test proves nothing).
    expect(results.some((r) => r.fixed !== null && r.fixed > 0.03)).toBe(true);
  },
  60_000,
);
