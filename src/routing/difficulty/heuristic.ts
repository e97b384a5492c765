// A keyword-and-shape heuristic for prompt difficulty: a stand-in until a
// learned router lands. One pass over the string, no regular expressions, no
// allocation per word, so it costs microseconds even on long prompts.
import type { DifficultyScorer } from './types.js';

/**
 * How each signal adds to the score; the sum is clamped to [0, 1]. Each
 * family is capped so that one loud signal (a long paste, a word repeated
 * fifty times) cannot decide alone, while one strong cue (a proof request)
 * can still lift a short prompt high. Cue words carry their own weights in
 * the tables below.
 */
export const DIFFICULTY_WEIGHTS = {
  /** Longer prompts need more context handling: +0.05 per doubling above 64 chars (≈ 4,000 chars reach the cap). */
  length: { fromChars: 64, perDoubling: 0.05, max: 0.3 },
  /** Code: any ``` fence, cue words, and the density of code punctuation ({};=<>[]_|). */
  code: { fence: 0.25, densityFrom: 0.02, densityTo: 0.12, density: 0.2, max: 0.5 },
  /** Math: cue words, LaTeX commands (\frac), and operators right after a number (2^10, 3 * 4). */
  math: { latexCommand: 0.08, digitOperator: 0.03, digitOperatorsMax: 0.2, max: 0.8 },
  /** Reasoning cues: why, explain, compare, analyze, design, optimize, trade-off, step by step. */
  reasoning: { max: 0.6 },
  /** Several questions or list items: several things to get right at once. */
  multiPart: { extraQuestion: 0.12, numberedItem: 0.08, bullet: 0.04, max: 0.4 },
  /** Constraints: must, exactly, without using, at least/at most. */
  constraints: { max: 0.3 },
} as const;

const CODE = 0;
const MATH = 1;
const REASONING = 2;
const CONSTRAINTS = 3;
const PHRASE = 4;
type Family = typeof CODE | typeof MATH | typeof REASONING | typeof CONSTRAINTS | typeof PHRASE;

/** Cue words (lower case ASCII letters). Phrase words only help recognise multi-word cues. */
const CUES: ReadonlyArray<readonly [Family, number, readonly string[]]> = [
  // prettier-ignore
  [CODE, 0.05, [
    'function', 'def', 'class', 'return', 'import', 'const', 'let', 'var', 'public', 'private',
    'static', 'void', 'int', 'struct', 'async', 'await', 'lambda', 'elif', 'println', 'printf',
    'console', 'null', 'nullptr', 'typedef', 'enum', 'namespace', 'python', 'javascript',
    'typescript', 'java', 'rust', 'golang', 'sql', 'regex', 'bash', 'kotlin', 'haskell', 'compile',
    'compiler', 'debug', 'refactor', 'algorithm', 'recursion', 'recursive', 'complexity',
    'implement', 'implementation', 'api', 'bug', 'code', 'segfault', 'exception', 'traceback',
  ]],
  // prettier-ignore
  [MATH, 0.65, ['prove', 'proof', 'proves', 'proving', 'theorem', 'lemma', 'corollary']],
  // prettier-ignore
  [MATH, 0.25, [
    'derive', 'derives', 'deriving', 'derivation', 'derivative', 'derivatives', 'integral',
    'integrals', 'integrate', 'induction', 'eigenvalue', 'eigenvalues', 'eigenvector',
    'eigenvectors', 'differential', 'asymptotic', 'convergence', 'converges', 'polynomial',
    'matrix', 'matrices', 'probability', 'bayesian', 'combinatorics', 'topology', 'manifold',
    'gradient', 'hessian', 'fourier', 'laplace', 'modulo', 'logarithm', 'infinitely', 'irrational',
  ]],
  // prettier-ignore
  [MATH, 0.08, [
    'equation', 'equations', 'solve', 'calculate', 'compute', 'sum', 'variance', 'prime', 'primes',
    'sqrt', 'factorial', 'inequality',
  ]],
  [REASONING, 0.12, ['why', 'pros', 'cons', 'strategy']],
  [REASONING, 0.15, ['explain', 'explanation', 'reasoning']],
  // prettier-ignore
  [REASONING, 0.2, [
    'contrast', 'evaluate', 'critique', 'implications', 'scalable', 'scalability', 'hypothesis',
  ]],
  // prettier-ignore
  [REASONING, 0.25, [
    'compare', 'comparison', 'analyze', 'analyse', 'analysis', 'justify', 'optimize', 'optimise',
    'optimization', 'optimisation', 'optimal',
  ]],
  [REASONING, 0.3, ['design', 'architect', 'architecture', 'tradeoff', 'tradeoffs']],
  [CONSTRAINTS, 0.06, ['ensure', 'required', 'requirement', 'requirements', 'guarantee']],
  [CONSTRAINTS, 0.08, ['must', 'exactly', 'strictly', 'constraint', 'constraints']],
  [PHRASE, 0, ['trade', 'off', 'offs', 'step', 'by', 'without', 'using', 'at', 'least', 'most']],
];

/** Multi-word cues, recognised from the previous one or two words. */
const PHRASE_WEIGHTS = {
  tradeOff: 0.3, // "trade-off(s)", "trade off"
  stepByStep: 0.3,
  withoutUsing: 0.12,
  atLeastOrMost: 0.06,
} as const;

// Cue lookup without building strings: words are hashed while scanning and
// looked up in a small open-addressing table; a hit is confirmed by comparing
// characters, so hash collisions cannot produce false cues.
const SLOTS = 1024; // power of two, well above the number of cue words
const slotHash = new Int32Array(SLOTS);
const slotEntry = new Int16Array(SLOTS); // entry index + 1; 0 = empty
const entryWord: string[] = [];
const entryFamily: Family[] = [];
const entryWeight: number[] = [];
let maxCueLength = 0;
/** Bit (first letter - 'a') set at [length] when some cue word has that length and first letter. */
const cueStarts = new Int32Array(32);

function hashWord(word: string): number {
  let h = 0;
  for (let i = 0; i < word.length; i++) h = (Math.imul(h, 31) + word.charCodeAt(i)) | 0;
  return h;
}

for (const [family, weight, words] of CUES) {
  for (const word of words) {
    if (entryWord.includes(word)) throw new Error(`difficulty heuristic: ${word} listed twice`);
    const index = entryWord.length;
    entryWord.push(word);
    entryFamily.push(family);
    entryWeight.push(weight);
    maxCueLength = Math.max(maxCueLength, word.length);
    cueStarts[word.length] = (cueStarts[word.length] as number) | (1 << (word.charCodeAt(0) - 97));
    const h = hashWord(word);
    let s = h & (SLOTS - 1);
    while (slotEntry[s] !== 0) s = (s + 1) & (SLOTS - 1);
    slotHash[s] = h;
    slotEntry[s] = index + 1;
  }
}

function entryOf(word: string): number {
  const h = hashWord(word);
  for (let s = h & (SLOTS - 1); slotEntry[s] !== 0; s = (s + 1) & (SLOTS - 1)) {
    const e = (slotEntry[s] as number) - 1;
    if (entryWord[e] === word) return e;
  }
  throw new Error(`difficulty heuristic: ${word} is not a cue word`);
}

const W_TRADE = entryOf('trade');
const W_OFF = entryOf('off');
const W_OFFS = entryOf('offs');
const W_STEP = entryOf('step');
const W_BY = entryOf('by');
const W_WITHOUT = entryOf('without');
const W_USING = entryOf('using');
const W_AT = entryOf('at');
const W_LEAST = entryOf('least');
const W_MOST = entryOf('most');

/** Finds the cue entry for text[start, start+length) (case-insensitive), or -1. */
function lookup(text: string, start: number, length: number, hash: number): number {
  for (let s = hash & (SLOTS - 1); slotEntry[s] !== 0; s = (s + 1) & (SLOTS - 1)) {
    if (slotHash[s] !== hash) continue;
    const e = (slotEntry[s] as number) - 1;
    const word = entryWord[e] as string;
    if (word.length !== length) continue;
    let k = 0;
    while (k < length && (text.charCodeAt(start + k) | 0x20) === word.charCodeAt(k)) k++;
    if (k === length) return e;
  }
  return -1;
}

/** What the single pass found, before weighting (exported for tests and debugging). */
export interface DifficultySignals {
  chars: number;
  codePoints: number;
  mathPoints: number;
  reasoningPoints: number;
  constraintPoints: number;
  codeFences: number;
  codeSymbols: number;
  latexCommands: number;
  digitOperators: number;
  questions: number;
  numberedItems: number;
  bullets: number;
}

// Character classes, looked up once per character (ASCII only; everything
// else is class 0 and ends words like punctuation).
const LETTER = 1;
const DIGIT = 2;
const CODE_SYMBOL = 4; // much more common in code than in prose: {};=<>[]_|
const OPERATOR = 8; // right after a number suggests arithmetic: + - * / = ^ < >
const CHAR_CLASS = new Uint8Array(128);
for (let c = 65; c <= 90; c++) CHAR_CLASS[c] = LETTER;
for (let c = 97; c <= 122; c++) CHAR_CLASS[c] = LETTER;
for (let c = 48; c <= 57; c++) CHAR_CLASS[c] = DIGIT;
for (const ch of '{};=<>[]_|') CHAR_CLASS[ch.charCodeAt(0)] = CODE_SYMBOL;
for (const ch of '+-*/=^<>') {
  const c = ch.charCodeAt(0);
  CHAR_CLASS[c] = (CHAR_CLASS[c] as number) | OPERATOR;
}

const TAB = 9;
const LF = 10;
const SPACE = 32;
const QUESTION = 63;
const BACKSLASH = 92;
const BACKTICK = 96;
const CLOSE_PAREN = 41;

function isLetter(c: number): boolean {
  return ((c | 0x20) - 97) >>> 0 < 26;
}

function charClass(c: number): number {
  return c < 128 ? (CHAR_CLASS[c] as number) : 0;
}

/** Scans the prompt once and counts the signals. */
export function difficultySignals(text: string): DifficultySignals {
  // Locals rather than object fields: this loop is the whole cost of scoring.
  let codePoints = 0;
  let mathPoints = 0;
  let reasoningPoints = 0;
  let constraintPoints = 0;
  let codeFences = 0;
  let codeSymbols = 0;
  let latexCommands = 0;
  let digitOperators = 0;
  let questions = 0;
  let numberedItems = 0;
  let bullets = 0;

  // The last two words, as cue entries (-1: not a cue word), for phrases.
  let prev1 = -1;
  let prev2 = -1;
  let lastChar = 0;
  let lastNonSpace = 0;
  let backticks = 0;
  // Line-start list markers: 0 none, 1 leading digits, 2 digits + "." or ")", 3 bullet char.
  let lineStart = true;
  let marker = 0;

  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (isLetter(c)) {
      // Consume the whole word in a tight loop: letters are most of any prompt.
      const start = i;
      let hash = 0;
      do {
        hash = (Math.imul(hash, 31) + (c | 0x20)) | 0;
        c = ++i < n ? text.charCodeAt(i) : 0;
      } while (isLetter(c));
      const length = i - start;
      // \frac, \int, \sum: two letters at least, so "\n" and "\d" in code do not count.
      if (length >= 2 && start > 0 && text.charCodeAt(start - 1) === BACKSLASH) latexCommands++;
      // Most words ("the", "and") are ruled out by length and first letter alone.
      const e =
        length <= maxCueLength &&
        ((cueStarts[length] as number) & (1 << ((text.charCodeAt(start) | 0x20) - 97))) !== 0
          ? lookup(text, start, length, hash)
          : -1;
      if (e >= 0) {
        const weight = entryWeight[e] as number;
        switch (entryFamily[e]) {
          case CODE:
            codePoints += weight;
            break;
          case MATH:
            mathPoints += weight;
            break;
          case REASONING:
            reasoningPoints += weight;
            break;
          case CONSTRAINTS:
            constraintPoints += weight;
            break;
          default: // PHRASE
            if (prev1 === W_TRADE && (e === W_OFF || e === W_OFFS)) {
              reasoningPoints += PHRASE_WEIGHTS.tradeOff;
            } else if (prev2 === W_STEP && prev1 === W_BY && e === W_STEP) {
              reasoningPoints += PHRASE_WEIGHTS.stepByStep;
            } else if (prev1 === W_WITHOUT && e === W_USING) {
              constraintPoints += PHRASE_WEIGHTS.withoutUsing;
            } else if (prev1 === W_AT && (e === W_LEAST || e === W_MOST)) {
              constraintPoints += PHRASE_WEIGHTS.atLeastOrMost;
            }
        }
      }
      prev2 = prev1;
      prev1 = e;
      lastChar = lastNonSpace = 97; // any letter
      lineStart = false;
      marker = 0;
      backticks = 0;
      if (i === n) break;
      // c is the character after the word; handle it below.
    }
    const cls = charClass(c);

    if (c === SPACE || c === TAB) {
      if (marker === 2) numberedItems++;
      else if (marker === 3) bullets++;
      marker = 0;
    } else if (c === LF) {
      lineStart = true;
      marker = 0;
    } else {
      if (cls === DIGIT) marker = lineStart || marker === 1 ? 1 : 0;
      else if (c === 46 || c === CLOSE_PAREN)
        marker = marker === 1 ? 2 : 0; // "." or ")"
      else if (c === 45 || c === 42 || c === 0x2022)
        marker = lineStart ? 3 : 0; // "-", "*", "•"
      else marker = 0;
      lineStart = false;

      if (c === BACKTICK) {
        if (++backticks === 3) codeFences++;
      } else {
        backticks = 0;
        if (c === QUESTION && lastChar !== QUESTION) questions++; // once per run of "?"
        if ((cls & CODE_SYMBOL) !== 0) codeSymbols++;
        if (
          (cls & OPERATOR) !== 0 &&
          (charClass(lastNonSpace) === DIGIT || lastNonSpace === CLOSE_PAREN)
        ) {
          digitOperators++;
        }
      }
      lastNonSpace = c;
    }
    lastChar = c;
  }
  return {
    chars: n,
    codePoints,
    mathPoints,
    reasoningPoints,
    constraintPoints,
    codeFences,
    codeSymbols,
    latexCommands,
    digitOperators,
    questions,
    numberedItems,
    bullets,
  };
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** Turns the counted signals into a score with DIFFICULTY_WEIGHTS. */
export function scoreSignals(sig: DifficultySignals): number {
  const w = DIFFICULTY_WEIGHTS;
  const length =
    sig.chars <= w.length.fromChars
      ? 0
      : Math.min(w.length.max, w.length.perDoubling * Math.log2(sig.chars / w.length.fromChars));

  // Density is noise on a few characters ("x = 5"), so it fades in over the first 200.
  const density = sig.chars === 0 ? 0 : sig.codeSymbols / sig.chars;
  const densityScore =
    w.code.density *
    clamp01((density - w.code.densityFrom) / (w.code.densityTo - w.code.densityFrom)) *
    Math.min(1, sig.chars / 200);
  const code = Math.min(
    w.code.max,
    sig.codePoints + (sig.codeFences > 0 ? w.code.fence : 0) + densityScore,
  );

  const math = Math.min(
    w.math.max,
    sig.mathPoints +
      w.math.latexCommand * sig.latexCommands +
      Math.min(w.math.digitOperatorsMax, w.math.digitOperator * sig.digitOperators),
  );
  const reasoning = Math.min(w.reasoning.max, sig.reasoningPoints);
  const multiPart = Math.min(
    w.multiPart.max,
    w.multiPart.extraQuestion * Math.max(0, sig.questions - 1) +
      w.multiPart.numberedItem * sig.numberedItems +
      w.multiPart.bullet * sig.bullets,
  );
  const constraints = Math.min(w.constraints.max, sig.constraintPoints);
  return clamp01(length + code + math + reasoning + multiPart + constraints);
}

/**
 * 0 (trivial) .. 1 (needs the strongest model). English-centric: prompts in
 * other languages only get the length and shape signals, so they score lower.
 */
export const scoreDifficulty: DifficultyScorer = (prompt) =>
  scoreSignals(difficultySignals(prompt));
