// Header regex patterns for property tests: RE2-only syntax, patterns that
// backtrack catastrophically in JavaScript, JavaScript-only syntax, invalid
// ones, and random strings of regex atoms from a seeded generator.

export const FIXED_PATTERNS = [
  // RE2-only syntax that JavaScript refuses or reads differently.
  'team[[:digit:]]+',
  '(?i)beta-.*',
  '(?P<n>v)[0-9]+',
  '\\Qa.b\\E',
  '(?s).+',
  '\\pL+',
  // Catastrophic backtracking in a JavaScript RegExp.
  '(a+)+',
  '([a-z0-9]+-?)+',
  '(x+x+)+y',
  '(a|a)*b',
  '(.*a){12}',
  // Valid JavaScript, not RE2.
  'a(?=b)',
  '(?<=a)b',
  '(a)\\1',
  'a{1001}',
  '((a{100}){100}){100}',
  // Invalid everywhere.
  'beta-(.*',
  '[',
  '*a',
  // Plain.
  'v[0-9]+',
  '',
  'a|b|',
];

const ATOMS = [
  'a',
  'b',
  '-',
  '.',
  '\\d',
  '\\w',
  '[a-z]',
  '[[:digit:]]',
  '[[:alpha:]]',
  '\\pL',
  '(?i)',
  '(?=',
  '\\1',
  '(?P<g>',
  '(',
  ')',
  '[',
  ']',
  '*',
  '+',
  '?',
  '{2}',
  '{1,3}',
  '|',
  '^',
  '$',
  '\\b',
];

export function randomPattern(rng: () => number): string {
  const n = 1 + Math.floor(rng() * 8);
  let out = '';
  for (let i = 0; i < n; i++) out += ATOMS[Math.floor(rng() * ATOMS.length)] as string;
  return out;
}

export function randomValue(rng: () => number): string {
  const chars = 'abAB-09 _x';
  const n = Math.floor(rng() * 12);
  let out = '';
  for (let i = 0; i < n; i++) out += chars[Math.floor(rng() * chars.length)] as string;
  return out;
}
