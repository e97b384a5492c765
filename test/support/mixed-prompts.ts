// Seeded chat prompts of mixed kinds and lengths, for strongShare tests that
// need traffic the difficulty model does not score evenly: chit-chat,
// factoids (some padded with chatty preamble), arithmetic word problems,
// proofs and code to write, in the proportions of an ordinary chat route
// (mostly easy). Deterministic for a seed.
import { seededRandom } from '../../src/routing/random.js';

export type PromptKind = 'chit-chat' | 'factoid' | 'word-problem' | 'proof' | 'code';

export interface MixedPrompt {
  kind: PromptKind;
  content: string;
}

/** Share of each kind: easy traffic dominates, as on a real chat route. */
const MIX: ReadonlyArray<readonly [PromptKind, number]> = [
  ['chit-chat', 0.25],
  ['factoid', 0.25],
  ['word-problem', 0.35],
  ['proof', 0.07],
  ['code', 0.08],
];

export function mixedPrompts(count: number, seed: number): MixedPrompt[] {
  const rng = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

  const write: Record<PromptKind, () => string> = {
    'chit-chat': () =>
      pick([
        'hi',
        'thanks, that helped a lot!',
        'good morning :)',
        'how are you today?',
        'tell me something nice',
        "I'm bored, say hello",
      ]),
    factoid: () => {
      const q = pick([
        `What is the capital of ${pick(['France', 'Peru', 'Japan', 'Kenya', 'Norway'])}?`,
        `Who wrote ${pick(['Hamlet', 'Don Quixote', 'War and Peace', 'Beloved'])}?`,
        `How many ${pick(['legs does a spider', 'moons does Mars', 'strings does a violin'])} have?`,
        `When did ${pick(['the Berlin Wall fall', 'the first Moon landing happen', 'World War I end'])}?`,
      ]);
      // Some users chat before they ask: length alone must not make it hard.
      return rng() < 0.3
        ? `Hey there! Hope your day is going well, mine has been long and I was chatting ` +
            `with a friend about trivia and we could not agree, so quick one for you: ${q} ` +
            `Just the answer is fine, thanks so much!`
        : q;
    },
    'word-problem': () => {
      // One to five steps of arithmetic: the model scores more steps harder.
      const steps = [
        `A shop buys ${int(10, 99)} boxes of ${int(6, 24)} apples for $${int(40, 400)}.`,
        `It sells each apple for $${(0.2 + rng()).toFixed(2)}.`,
        `${int(2, 9)} boxes spoil before they are sold.`,
        `Rent for the month is $${int(10, 80)} and wages are $${int(20, 200)}.`,
        `On Saturdays the price drops by ${int(5, 30)}% and a third of the apples sell then.`,
      ].slice(0, int(1, 5));
      return `${steps.join(' ')} ${pick(['What is the profit?', 'How much money does the shop make? Show each step.', 'How many apples are left, and what are they worth?'])}`;
    },
    proof: () =>
      pick([
        `Prove that the sum of the first ${int(2, 60)} odd numbers is a perfect square, and generalise.`,
        `Prove that there are infinitely many primes congruent to ${pick([3, 5])} mod ${pick([4, 6])}.`,
        `Prove that sqrt(${pick([2, 3, 5, 7])}) is irrational.`,
        `Show by induction that ${int(2, 9)}^n - 1 is divisible by ${int(1, 8)} for every n ≥ 1.`,
      ]),
    code: () =>
      `Write a TypeScript function that ` +
      pick([
        'merges k sorted arrays in O(n log k)',
        'parses CSV with quoted fields and escaped quotes',
        'finds every cycle in a directed graph',
        'implements an LRU cache with O(1) get and put',
      ]) +
      `, with unit tests, handling ${pick(['empty input', 'unicode', 'very large inputs'])}.`,
  };

  return Array.from({ length: count }, () => {
    let r = rng();
    const kind = MIX.find(([, share]) => (r -= share) < 0)?.[0] ?? 'code';
    return { kind, content: write[kind]() };
  });
}
