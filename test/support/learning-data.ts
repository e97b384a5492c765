// A small labelled data set for the learning tests (issue 17), made so the
// shipped prior gets it backwards: on this "route" the strong model helps
// with short translation requests (the prior scores translation and short
// prompts as easy) and not with long passages full of numbers (which the
// prior scores as hard). A rule that learns from its own outcomes must turn
// the order round; one that does not stays below a random router.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../src/routing/random.js';

export interface LearningExample {
  prompt: string;
  weak: number;
  strong: number;
}

const PHRASES = [
  'the meeting moved to Thursday',
  'our invoices are due at the end of the month',
  'please keep the receipts for the audit',
  'the train leaves from platform four',
  'we ship the new release next week',
  'the garden needs water every morning',
  'my sister teaches chemistry in Lyon',
  'the museum opens late on Fridays',
  'bring a coat because it will rain',
  'the contract renews automatically',
];
const LANGUAGES = ['French', 'German', 'Italian', 'Spanish', 'Portuguese', 'Dutch'];
const ITEMS = ['crates', 'pallets', 'boxes', 'barrels', 'sacks', 'bundles'];

function translation(rng: () => number, i: number): LearningExample {
  const phrase = PHRASES[Math.floor(rng() * PHRASES.length)] as string;
  const language = LANGUAGES[Math.floor(rng() * LANGUAGES.length)] as string;
  const helped = rng() < 0.85;
  return {
    prompt: `Translate into ${language}: "${phrase}" (note ${i})`,
    weak: helped ? 0 : 1,
    strong: 1,
  };
}

function ledger(rng: () => number, i: number): LearningExample {
  const lines = Array.from({ length: 12 }, (_, k) => {
    const item = ITEMS[Math.floor(rng() * ITEMS.length)] as string;
    const n = 10 + Math.floor(rng() * 990);
    return `On day ${k + 1} the depot received ${n} ${item} and shipped ${Math.floor(n / 3)} of them to the northern warehouse, recording the count twice.`;
  });
  const solved = rng() < 0.9 ? 1 : 0;
  return {
    prompt: `${lines.join(' ')} How many ${ITEMS[i % ITEMS.length]} were received in total? (ledger ${i})`,
    weak: solved,
    strong: solved,
  };
}

/** `n` examples, half of each kind, in seeded random order; every prompt distinct. */
export function learningExamples(n: number, seed: number): LearningExample[] {
  const rng = seededRandom(seed);
  const out = Array.from({ length: n }, (_, i) =>
    i % 2 === 0 ? translation(rng, seed * 100_000 + i) : ledger(rng, seed * 100_000 + i),
  );
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as LearningExample, out[i] as LearningExample];
  }
  return out;
}

const csvField = (s: string): string => `"${s.replaceAll('"', '""')}"`;

/** Writes the examples as the CSV the simulators read: prompt, weak, strong. */
export function writeLearningCsv(dir: string, examples: readonly LearningExample[]): string {
  const path = join(dir, 'learning.csv');
  const rows = examples.map((e) => [csvField(e.prompt), e.weak, e.strong].join(','));
  writeFileSync(path, ['prompt,weak,strong', ...rows].join('\n') + '\n');
  return path;
}
