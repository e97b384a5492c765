// Features of a prompt for the learned difficulty router, computed in one
// pass over the string with no regular expressions and no allocation per
// call: a few dense shape features (length, structure, code, math, question
// form) and hashed word unigrams, bigrams and word endings.
//
// Changing anything here changes what the weights mean: bump
// FEATURE_SET.version, and models trained on the old set are refused on load.

/** Dense features, in the order of the model's `dense` weights. */
export const DENSE_FEATURES = [
  'log_chars',
  'log_words',
  'log_lines',
  'mean_word_length',
  'long_word_share',
  'digit_share',
  'capitalised_word_share',
  'non_ascii_word_share',
  'code_symbol_share',
  'log_code_fences',
  'log_latex_commands',
  'log_math_operators',
  'log_numbers',
  'log_questions',
  'log_list_items',
  'log_sentences',
  'log_currency',
] as const;

export const FEATURE_SET = {
  /** Bump on any change to extraction or hashing. */
  version: 1,
  /** Hashed features live in 2^hashBits buckets. */
  hashBits: 18,
  /** Longer prompts are scanned up to here (length features still see the whole prompt). */
  maxScanChars: 32_768,
  dense: DENSE_FEATURES,
} as const;

/** Identifies the feature set; stored in every model and checked on load. */
export function featureSetId(): string {
  const spec = JSON.stringify({ ...FEATURE_SET, hashing: 'fnv1a-salted-v1' });
  let h = 0x811c9dc5;
  for (let i = 0; i < spec.length; i++) h = Math.imul(h ^ spec.charCodeAt(i), 0x01000193);
  return `fs${FEATURE_SET.version}-${(h >>> 0).toString(16).padStart(8, '0')}`;
}

const HASH_MASK = (1 << FEATURE_SET.hashBits) - 1;
const FNV_OFFSET = 0x811c9dc5 | 0; // an int32, so the running hash stays a small integer in V8
const FNV_PRIME = 0x01000193;
const SALT_BIGRAM = 0x5bd1e995;
const SALT_SUFFIX = 0x27d4eb2d;
const SALT_NUMBER = 0x165667b1;

/** Finalises a 32-bit hash (murmur3's fmix) so nearby inputs spread over all buckets. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * Reusable output of `extractFeatures`. `hashes[0..hashCount)` are bucket
 * indices, one per occurrence (repeats count); each carries `hashScale`.
 */
export class FeatureBuffer {
  dense = new Float64Array(DENSE_FEATURES.length);
  hashes = new Int32Array(4096);
  hashCount = 0;
  hashScale = 0;

  push(index: number): void {
    if (this.hashCount === this.hashes.length) {
      const grown = new Int32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.hashCount++] = index;
  }
}

// Character classes, one table lookup per UTF-16 code unit; everything from
// 128 up is a word character (other scripts hash like words).
const C_LETTER = 1;
const C_DIGIT = 2;
const C_CODE = 4; // {}[];=<>_|`\
const C_MATH = 8; // + - * / ^ = % < >
const C_NON_ASCII = 16;
const C_UPPER = 0x20; // the bit that lower-cases an ASCII letter: c | (class & C_UPPER)
const C_WORD = C_LETTER | C_DIGIT;
const CLASS = new Uint8Array(65536).fill(C_LETTER | C_NON_ASCII, 128);
for (let c = 97; c <= 122; c++) CLASS[c] = C_LETTER;
for (let c = 65; c <= 90; c++) CLASS[c] = C_LETTER | C_UPPER;
for (let c = 48; c <= 57; c++) CLASS[c] = C_DIGIT;
for (const ch of '{}[];=<>_|`\\')
  CLASS[ch.charCodeAt(0)] = (CLASS[ch.charCodeAt(0)] as number) | C_CODE;
for (const ch of '+-*/^=%<>')
  CLASS[ch.charCodeAt(0)] = (CLASS[ch.charCodeAt(0)] as number) | C_MATH;

const NL = 10;
const SPACE = 32;
const QUESTION = 63;
const BACKTICK = 96;
const BACKSLASH = 92;
const DOLLAR = 36;
const DOT = 46;
const BANG = 33;
const CLOSE_PAREN = 41;

/** Lower-cased ASCII code of prompt[i] (other characters unchanged). */
function lowerAt(prompt: string, i: number): number {
  const c = prompt.charCodeAt(i);
  return c | ((CLASS[c] as number) & C_UPPER);
}

/** Fills `out` with the features of `prompt`. Pure: same prompt, same features. */
export function extractFeatures(prompt: string, out: FeatureBuffer): void {
  const n = Math.min(prompt.length, FEATURE_SET.maxScanChars);
  out.hashCount = 0;
  let words = 0;
  let wordChars = 0;
  let longWords = 0;
  let lines = n > 0 ? 1 : 0;
  let digits = 0;
  let upper = 0;
  let nonAscii = 0;
  let codeSymbols = 0;
  let codeFences = 0;
  let backticks = 0;
  let latex = 0;
  let mathOps = 0;
  let numbers = 0;
  let questions = 0;
  let listItems = 0;
  let sentences = 0;
  let currency = 0;
  let prevWord = 0; // hash of the previous word; 0 at the start or after a line break
  let lineStart = true;
  let prev = 0;

  let i = 0;
  while (i < n) {
    let c = prompt.charCodeAt(i);
    let cls = CLASS[c] as number;
    if ((cls & C_WORD) !== 0) {
      // A word: hash it in a tight loop.
      const start = i;
      let hash = FNV_OFFSET;
      let seen = 0; // union of the classes in the word
      do {
        seen |= cls;
        hash = Math.imul(hash ^ (c | (cls & C_UPPER)), FNV_PRIME);
        if (++i >= n) break;
        c = prompt.charCodeAt(i);
        cls = CLASS[c] as number;
      } while ((cls & C_WORD) !== 0);
      const length = i - start;
      const isNumber = (seen & C_LETTER) === 0;
      // Numbers collapse to their digit count, so "16" and "42" share a feature.
      const token = isNumber ? fmix(SALT_NUMBER + Math.min(length, 6)) : fmix(hash);
      out.push(token & HASH_MASK);
      if (prevWord !== 0) out.push(fmix(Math.imul(prevWord, SALT_BIGRAM) ^ token) & HASH_MASK);
      if (isNumber) {
        numbers++;
        digits += length;
      } else if (length >= 5) {
        let h = Math.imul(SALT_SUFFIX ^ lowerAt(prompt, i - 3), FNV_PRIME);
        h = Math.imul(h ^ lowerAt(prompt, i - 2), FNV_PRIME);
        h = Math.imul(h ^ lowerAt(prompt, i - 1), FNV_PRIME);
        out.push(fmix(h) & HASH_MASK);
      }
      if ((seen & C_UPPER) !== 0) upper++;
      if ((seen & C_NON_ASCII) !== 0) nonAscii++;
      if (lineStart && (length > 2 || i >= n || (c !== DOT && c !== CLOSE_PAREN)))
        lineStart = false;
      words++;
      wordChars += length;
      if (length >= 9) longWords++;
      prevWord = token === 0 ? 1 : token;
      prev = 0;
      continue;
    }
    // Anything else: punctuation, space, symbols.
    if (c === NL) {
      lines++;
      lineStart = true;
      prevWord = 0;
    } else if (lineStart && c !== SPACE && c !== 9) {
      // "1." / "a)" (the marker word left lineStart set) or "- " / "* " bullets.
      if (c === DOT || c === CLOSE_PAREN || c === 45 || c === 42) listItems++;
      lineStart = false;
    }
    if (c === QUESTION && prev !== QUESTION) questions++;
    if ((c === DOT || c === BANG || c === QUESTION) && i + 1 < n) {
      const next = prompt.charCodeAt(i + 1);
      if (next === SPACE || next === NL) sentences++;
    }
    if (c === DOLLAR) currency++;
    if ((cls & C_CODE) !== 0) codeSymbols++;
    if ((cls & C_MATH) !== 0) mathOps++;
    if (c === BACKTICK) {
      if (++backticks === 3) codeFences++;
    } else backticks = 0;
    if (c === BACKSLASH && i + 1 < n) {
      const next = prompt.charCodeAt(i + 1) | 0x20;
      if (next >= 97 && next <= 122) latex++;
    }
    prev = c;
    i++;
  }
  if (n > 0 && prompt.charCodeAt(n - 1) === NL) lines--;

  const chars = Math.max(1, n);
  const d = out.dense;
  d[0] = Math.log1p(prompt.length);
  d[1] = Math.log1p(words);
  d[2] = Math.log1p(lines);
  d[3] = words > 0 ? wordChars / words : 0;
  d[4] = words > 0 ? longWords / words : 0;
  d[5] = digits / chars;
  d[6] = words > 0 ? upper / words : 0;
  d[7] = words > 0 ? nonAscii / words : 0;
  d[8] = codeSymbols / chars;
  d[9] = Math.log1p(codeFences);
  d[10] = Math.log1p(latex);
  d[11] = Math.log1p(mathOps);
  d[12] = Math.log1p(numbers);
  d[13] = Math.log1p(questions);
  d[14] = Math.log1p(listItems);
  d[15] = Math.log1p(sentences);
  d[16] = Math.log1p(currency);
  out.hashScale = out.hashCount > 0 ? 1 / Math.sqrt(out.hashCount) : 0;
}
