// Feature set v2 of the learned difficulty router: what KIND of task a prompt
// is (math to solve, a proof, code to write or code given, extraction from a
// supplied passage, multiple choice, creative writing, role-play, chit-chat,
// translation, summarisation, ...) and its length and structure, but no topic
// words. Model v1 hashed every word and bigram; on its own training prompts it
// reached APGR 0.985 (MMLU) yet did no better than prompt length on new kinds
// of traffic (issue 12): topic words are memorised, task kinds carry over.
//
// One pass over the string, no regular expressions and no allocation per
// call: each word is hashed (lower-cased ASCII) and looked up in a small
// open-addressing table of cue words and two-word cues.
//
// Changing anything here changes what the weights mean: bump
// FEATURE_SET_V2.version, and models trained on the old set are refused on load.

/** Dense features, in the order of a v2 model's `dense` weights. */
export const DENSE_FEATURES_V2 = [
  // Length and structure.
  'log_chars',
  'log_words',
  'log_sentences',
  'log_lines',
  'log_list_items',
  'log_questions',
  'mean_word_length',
  'long_word_share',
  'capitalised_word_share',
  'non_ascii_word_share',
  // Numbers and math to solve.
  'log_numbers',
  'log_max_number_digits',
  'log_digit_operators',
  'log_latex_commands',
  'log_currency',
  'log_unit_words',
  'log_quantity_questions',
  'log_solve_words',
  'log_math_words',
  'log_proof_words',
  // Reasoning and constraints.
  'log_reasoning_words',
  'log_constraint_words',
  'log_negation_words',
  // Code.
  'log_code_write_cues',
  'log_code_keywords',
  'log_code_fences',
  'code_symbol_share',
  // Supplied text and answer format.
  'log_passage_chars',
  'log_extraction_words',
  'multiple_choice_options',
  // Kinds of conversation.
  'log_creative_words',
  'log_roleplay_cues',
  'log_chat_words',
  'log_factoid_cues',
  'log_translation_cues',
  'log_summary_cues',
  'first_second_person_share',
] as const;
export type DenseFeatureV2 = (typeof DENSE_FEATURES_V2)[number];

export const FEATURE_SET_V2 = {
  /** Bump on any change to extraction or to the cue lists. */
  version: 2,
  /** Bumped within version 2 while unreleased: changes the id, so files trained before are refused. */
  revision: 3,
  /** quantitativeGate's rule (a model may learn a second set of weights for the prompts it admits). */
  gate: 'ops|latex|quantity|currency|numbers>=2',
  /** Longer prompts are scanned up to here (length features still see the whole prompt). */
  maxScanChars: 32_768,
  dense: DENSE_FEATURES_V2,
} as const;

/** Identifies the feature set; stored in every v2 model and checked on load. */
export function featureSetIdV2(): string {
  // Cue lists normalised to single spaces, so reformatting the source keeps the id.
  const cues = [...CUE_WORDS, ...CUE_PHRASES].map(([f, w]) => [f, w.split(/\s+/).join(' ').trim()]);
  const spec = JSON.stringify({ ...FEATURE_SET_V2, cues });
  let h = 0x811c9dc5;
  for (let i = 0; i < spec.length; i++) h = Math.imul(h ^ spec.charCodeAt(i), 0x01000193);
  return `fs${FEATURE_SET_V2.version}-${(h >>> 0).toString(16).padStart(8, '0')}`;
}

/** Index of a feature in DENSE_FEATURES_V2 (throws on a typo, at module load). */
export function featureIndexV2(name: DenseFeatureV2): number {
  const i = (DENSE_FEATURES_V2 as readonly string[]).indexOf(name);
  if (i < 0) throw new Error(`no v2 feature ${name}`);
  return i;
}

// Cue families: a word (or two-word phrase) may belong to several.
const UNIT = 1 << 0;
const QUANTITY = 1 << 1; // "how many", "how much", "in total" (two-word cues)
const SOLVE = 1 << 2;
const MATHWORD = 1 << 3;
const PROOF = 1 << 4;
const REASONING = 1 << 5;
const CONSTRAINT = 1 << 6;
const NEGATION = 1 << 7;
const CODE_VERB = 1 << 8;
const CODE_NOUN = 1 << 9;
const CODE_KEYWORD = 1 << 10;
const EXTRACTION = 1 << 11;
const CREATIVE = 1 << 12;
const ROLEPLAY = 1 << 13;
const CHAT = 1 << 14;
const FACTOID = 1 << 15;
const TRANSLATION = 1 << 16;
const SUMMARY = 1 << 17;
const PERSON = 1 << 18;
/** The first word of some two-word cue: only after one is the pair looked up. */
const PHRASE_HEAD = 1 << 19;

// prettier-ignore
const CUE_WORDS: ReadonlyArray<readonly [number, string]> = [
  [UNIT, `dollars dollar cents cent hours hour minutes minute seconds days day weeks week months
    month years year miles mile km kilometers meters meter metres feet foot inches inch pounds
    pound kg kilograms grams gram liters litres liter gallons gallon mph cups cup dozen percent
    each per every times twice half third quarter apiece price cost costs paid pays earns
    earned spends spent sells sold buys bought profit`],
  [SOLVE, `solve calculate compute find evaluate simplify determine estimate total remainder
    altogether`],
  [MATHWORD, `equation equations integral derivative sum product difference average mean ratio
    probability fraction fractions percentage square root roots polynomial matrix vector function
    prime integer integers divisible factor factors modulo exponent logarithm area volume
    perimeter radius velocity acceleration`],
  [PROOF, `prove proof proves proving theorem lemma corollary qed rigorous rigorously`],
  [REASONING, `why explain explanation because therefore thus hence reason reasoning justify
    analyze analyse compare contrast evaluate implies imply infer deduce suppose assume
    consider conclude conclusion argument step steps`],
  [CONSTRAINT, `must exactly only without cannot should never always least most maximum
    minimum limit constraint constraints require required requirement`],
  [NEGATION, `not except false incorrect untrue never neither nor least`],
  [CODE_VERB, `write implement create build refactor debug fix optimize optimise code`],
  [CODE_NOUN, `function program script class method algorithm code query regex api endpoint
    python javascript typescript java rust golang sql bash html css cpp kotlin swift`],
  [CODE_KEYWORD, `def return import const let var void int struct elif println printf console
    null nullptr typedef enum namespace async await lambda public private static`],
  [EXTRACTION, `passage text article paragraph excerpt according author quoted quote document
    information extract based above below following context`],
  [CREATIVE, `poem poems poetry story stories essay haiku limerick lyrics song sonnet fiction
    narrative creative tale verse rhyme novel slogan joke jokes`],
  [ROLEPLAY, `pretend roleplay persona imagine`],
  [CHAT, `hi hello hey thanks thank lol haha hmm awesome chat chatting curious wondering btw`],
  [FACTOID, `capital define definition meaning who when where name largest tallest oldest`],
  [TRANSLATION, `translate translation translated french spanish german chinese japanese
    italian portuguese russian korean`],
  [SUMMARY, `summarize summarise summary summarized tldr condense shorten recap`],
  [PERSON, `i me my mine you your yours we our us`],
];

// prettier-ignore
const CUE_PHRASES: ReadonlyArray<readonly [number, string]> = [
  [QUANTITY, 'how many|how much|how long|how far|how old|in total|in all'],
  [PROOF, 'show that|prove that'],
  [REASONING, 'step by|think step|if then'],
  [CONSTRAINT, 'at least|at most|no more|no less|no longer'],
  [ROLEPLAY, 'act as|you are|play the|role of|in character|pretend to'],
  [CHAT, 'how are|good morning|good night|what up|just wondering|by the'],
  [FACTOID, 'what is|who is|who was|what was|when did|where is'],
  [SUMMARY, 'main points|key points|in brief|sum up'],
  [TRANSLATION, 'into english|into french|into spanish|into german|into chinese'],
];

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
const PAIR_SALT = 0x5bd1e995;

function wordHash(word: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), FNV_PRIME);
  return h;
}

function pairHash(a: number, b: number): number {
  return Math.imul(a, PAIR_SALT) ^ b;
}

/** Open addressing on 32-bit hashes: a hit on a cue needs the whole hash to match. */
const TABLE_BITS = 11;
const TABLE_MASK = (1 << TABLE_BITS) - 1;
const TABLE_KEYS = new Int32Array(1 << TABLE_BITS);
const TABLE_FLAGS = new Int32Array(1 << TABLE_BITS); // 0 = empty slot

function slot(h: number): number {
  return (Math.imul(h, 0x9e3779b1) >>> (32 - TABLE_BITS)) & TABLE_MASK;
}

function addCue(h: number, flags: number): void {
  let s = slot(h);
  while (TABLE_FLAGS[s] !== 0 && TABLE_KEYS[s] !== h) s = (s + 1) & TABLE_MASK;
  TABLE_KEYS[s] = h;
  TABLE_FLAGS[s] = (TABLE_FLAGS[s] as number) | flags;
}

function lookup(h: number): number {
  let s = slot(h);
  for (;;) {
    const f = TABLE_FLAGS[s] as number;
    if (f === 0) return 0;
    if (TABLE_KEYS[s] === h) return f;
    s = (s + 1) & TABLE_MASK;
  }
}

for (const [flags, words] of CUE_WORDS)
  for (const w of words.split(/\s+/).filter(Boolean)) addCue(wordHash(w), flags);
for (const [flags, phrases] of CUE_PHRASES)
  for (const p of phrases.split('|')) {
    const [a, b] = p.split(' ') as [string, string];
    addCue(wordHash(a), PHRASE_HEAD);
    addCue(pairHash(wordHash(a), wordHash(b)), flags);
  }

// Character classes, one table lookup per UTF-16 code unit.
const C_LETTER = 1;
const C_DIGIT = 2;
const C_CODE = 4; // {}[];=<>_|`\
const C_OP = 8; // + - * / ^ = % < > ×
const C_NON_ASCII = 16;
const C_UPPER = 0x20; // the bit that lower-cases an ASCII letter
const C_WORD = C_LETTER | C_DIGIT;
const CLASS = new Uint8Array(65536).fill(C_LETTER | C_NON_ASCII, 128);
for (let c = 97; c <= 122; c++) CLASS[c] = C_LETTER;
for (let c = 65; c <= 90; c++) CLASS[c] = C_LETTER | C_UPPER;
for (let c = 48; c <= 57; c++) CLASS[c] = C_DIGIT;
for (const ch of '{}[];=<>_|`\\')
  CLASS[ch.charCodeAt(0)] = (CLASS[ch.charCodeAt(0)] as number) | C_CODE;
for (const ch of '+-*/^=%<>×÷')
  CLASS[ch.charCodeAt(0)] = ((CLASS[ch.charCodeAt(0)] as number) & ~C_LETTER) | C_OP;

const NL = 10;
const CR = 13;
const TAB = 9;
const SPACE = 32;
const QUESTION = 63;
const BACKTICK = 96;
const BACKSLASH = 92;
const DOLLAR = 36;
const DOT = 46;
const BANG = 33;
const CLOSE_PAREN = 41;
const COLON = 58;

const Q_NUMBERS = DENSE_FEATURES_V2.indexOf('log_numbers');
const Q_OPS = DENSE_FEATURES_V2.indexOf('log_digit_operators');
const Q_LATEX = DENSE_FEATURES_V2.indexOf('log_latex_commands');
const Q_QUANTITY = DENSE_FEATURES_V2.indexOf('log_quantity_questions');
const Q_CURRENCY = DENSE_FEATURES_V2.indexOf('log_currency');
const LOG_TWO = Math.log1p(2);

/**
 * 1 for a quantitative prompt, else 0, from its features at
 * `dense[offset..]`: arithmetic, LaTeX, a quantity asked for, money, or at
 * least two numbers. Why a gate: what orders prompts differs by kind. Trained
 * on GSM8K alone, a model orders MMLU-STEM at APGR 0.61 but humanities at
 * 0.52; trained on humanities, STEM at 0.39 and GSM8K at 0.45 (worse than
 * random): calculations that both models fail look "hard" to a verbal rule.
 */
export function quantitativeGate(dense: ArrayLike<number>, offset = 0): number {
  const f = (j: number) => dense[offset + j] as number;
  return f(Q_OPS) > 0 ||
    f(Q_LATEX) > 0 ||
    f(Q_QUANTITY) > 0 ||
    f(Q_CURRENCY) > 0 ||
    f(Q_NUMBERS) >= LOG_TWO
    ? 1
    : 0;
}

/** Reusable output of `extractFeaturesV2`. */
export class FeatureBufferV2 {
  dense = new Float64Array(DENSE_FEATURES_V2.length);
}

/** Per-family counts of one prompt, reused between calls. */
const counts = new Int32Array(20);

function bitIndex(flag: number): number {
  return 31 - Math.clz32(flag);
}

/** Fills `out` with the v2 features of `prompt`. Pure: same prompt, same features. */
export function extractFeaturesV2(prompt: string, out: FeatureBufferV2): void {
  const n = Math.min(prompt.length, FEATURE_SET_V2.maxScanChars);
  counts.fill(0);
  let words = 0;
  let wordChars = 0;
  let longWords = 0;
  let upper = 0;
  let nonAscii = 0;
  let lines = n > 0 ? 1 : 0;
  let sentences = 0;
  let questions = 0;
  let listItems = 0;
  let options = 0; // lines starting "A." .. "E." or "A)" .. "E)"
  let numbers = 0;
  let maxDigits = 0;
  let digitOps = 0;
  let latex = 0;
  let currency = 0;
  let codeSymbols = 0;
  let codeFences = 0;
  let backticks = 0;
  let lineStart = true;
  let lineChars = 0;
  let longestLine = 0;
  let prevWord = 0; // hash of the previous word if it can start a two-word cue; 0 after punctuation
  let lastSignificant = 0; // previous non-space character
  let lineWords = 0;

  let i = 0;
  while (i < n) {
    let c = prompt.charCodeAt(i);
    let cls = CLASS[c] as number;
    if ((cls & C_WORD) !== 0) {
      const start = i;
      let hash = FNV_OFFSET;
      let seen = 0;
      do {
        seen |= cls;
        hash = Math.imul(hash ^ (c | (cls & C_UPPER)), FNV_PRIME);
        if (++i >= n) break;
        c = prompt.charCodeAt(i);
        cls = CLASS[c] as number;
      } while ((cls & C_WORD) !== 0);
      const length = i - start;
      lineChars += length;
      if ((seen & C_LETTER) === 0) {
        numbers++;
        if (length > maxDigits) maxDigits = length;
        prevWord = 0;
      } else {
        let flags = lookup(hash);
        if (prevWord !== 0) flags |= lookup(pairHash(prevWord, hash));
        prevWord = (flags & PHRASE_HEAD) !== 0 ? hash : 0;
        flags &= ~PHRASE_HEAD;
        while (flags !== 0) {
          const bit = 31 - Math.clz32(flags);
          counts[bit] = (counts[bit] as number) + 1;
          flags ^= 1 << bit;
        }
        if ((seen & C_UPPER) !== 0) upper++;
        if ((seen & C_NON_ASCII) !== 0) nonAscii++;
        if (length >= 9) longWords++;
      }
      // "A." / "B)" at a line start: an answer option; "1." / "a)" a list item.
      if (lineStart && lineWords === 0 && length <= 2 && i < n) {
        const next = prompt.charCodeAt(i);
        if (next === DOT || next === CLOSE_PAREN || next === COLON) {
          const first = prompt.charCodeAt(start);
          if (length === 1 && first >= 65 && first <= 69) options++;
          else listItems++;
        }
      }
      lineStart = false;
      lineWords++;
      words++;
      wordChars += length;
      lastSignificant = (seen & C_LETTER) === 0 ? 48 : 97;
      continue;
    }
    if (c === SPACE) {
      // Most of what is not a word: nothing below counts a space.
      lineChars++;
      backticks = 0;
      i++;
      continue;
    }
    if (c === NL) {
      lines++;
      if (lineChars > longestLine) longestLine = lineChars;
      lineChars = 0;
      lineWords = 0;
      lineStart = true;
      prevWord = 0;
    } else if (c !== SPACE && c !== TAB && c !== CR) {
      if (lineStart && lineWords === 0 && (c === 45 || c === 42 || c === 0x2022)) listItems++;
      lineStart = false;
      if (c !== 39 && c !== 0x2019) prevWord = 0; // an apostrophe keeps "what's" together
    }
    lineChars++;
    if (c === QUESTION && lastSignificant !== QUESTION) questions++;
    if ((c === DOT || c === BANG || c === QUESTION) && i + 1 < n) {
      const next = prompt.charCodeAt(i + 1);
      if (next === SPACE || next === NL) sentences++;
    }
    if (c === DOLLAR) currency++;
    if ((cls & C_CODE) !== 0) codeSymbols++;
    if ((cls & C_OP) !== 0 && (lastSignificant === 48 || lastSignificant === CLOSE_PAREN))
      digitOps++;
    if (c === BACKTICK) {
      if (++backticks === 3) codeFences++;
    } else backticks = 0;
    if (c === BACKSLASH && i + 1 < n) {
      const next = prompt.charCodeAt(i + 1) | 0x20;
      if (next >= 97 && next <= 122) latex++;
    }
    if (c !== SPACE && c !== TAB) lastSignificant = (CLASS[c] as number) & C_DIGIT ? 48 : c;
    i++;
  }
  if (lineChars > longestLine) longestLine = lineChars;
  if (n > 0 && prompt.charCodeAt(n - 1) === NL) lines--;
  // Text ending without a stop is still a sentence.
  if (words > 0) sentences++;

  const count = (flag: number) => counts[bitIndex(flag)] as number;
  const chars = Math.max(1, n);
  const perWord = words > 0 ? 1 / words : 0;
  const d = out.dense;
  let k = 0;
  d[k++] = Math.log1p(prompt.length);
  d[k++] = Math.log1p(words);
  d[k++] = Math.log1p(sentences);
  d[k++] = Math.log1p(lines);
  d[k++] = Math.log1p(listItems);
  d[k++] = Math.log1p(questions);
  d[k++] = words > 0 ? wordChars / words : 0;
  d[k++] = longWords * perWord;
  d[k++] = upper * perWord;
  d[k++] = nonAscii * perWord;
  d[k++] = Math.log1p(numbers);
  d[k++] = Math.log1p(maxDigits);
  d[k++] = Math.log1p(digitOps);
  d[k++] = Math.log1p(latex);
  d[k++] = Math.log1p(currency);
  d[k++] = Math.log1p(count(UNIT));
  d[k++] = Math.log1p(count(QUANTITY));
  d[k++] = Math.log1p(count(SOLVE));
  d[k++] = Math.log1p(count(MATHWORD));
  d[k++] = Math.log1p(count(PROOF));
  d[k++] = Math.log1p(count(REASONING));
  d[k++] = Math.log1p(count(CONSTRAINT));
  d[k++] = Math.log1p(count(NEGATION));
  // Code to write: a request verb and a code noun both present.
  d[k++] = Math.log1p(Math.min(count(CODE_VERB), count(CODE_NOUN)));
  d[k++] = Math.log1p(count(CODE_KEYWORD));
  d[k++] = Math.log1p(codeFences);
  d[k++] = codeSymbols / chars;
  // A supplied passage: the longest line beyond what a question needs (~200
  // chars), when other lines (the question, options) come with it; one long
  // line alone is a long question, not text to read.
  d[k++] = lines >= 2 ? Math.log1p(Math.max(0, longestLine - 200)) : 0;
  d[k++] = Math.log1p(count(EXTRACTION));
  d[k++] = options >= 2 ? 1 : 0;
  d[k++] = Math.log1p(count(CREATIVE));
  d[k++] = Math.log1p(count(ROLEPLAY));
  d[k++] = Math.log1p(count(CHAT));
  d[k++] = Math.log1p(count(FACTOID));
  d[k++] = Math.log1p(count(TRANSLATION));
  d[k++] = Math.log1p(count(SUMMARY));
  d[k++] = count(PERSON) * perWord;
}
