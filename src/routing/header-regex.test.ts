// Header regexes are RE2 everywhere: the schema (controller, validate, the
// routing table) accepts exactly the patterns RE2 compiles, and the proxy's
// matcher agrees with RE2's full match on every value, including patterns that
// backtrack catastrophically in a JavaScript RegExp.
import { RE2JS } from 're2js';
import { routeMatch } from '../api/v1alpha1/index.js';
import { backend, facts, route } from './__fixtures__/objects.js';
import { compileRoutingTable } from './compile.js';
import { prepareTable } from './prepared-table.js';
import { seededRandom } from './random.js';
import { FIXED_PATTERNS, randomPattern, randomValue } from './__fixtures__/header-regex-corpus.js';
import { selectBackends } from './select.js';

function re2Compiles(pattern: string): boolean {
  try {
    RE2JS.compile(pattern);
    return true;
  } catch {
    return false;
  }
}

function schemaAccepts(pattern: string): boolean {
  return routeMatch.safeParse({
    headers: [{ name: 'x-v', type: 'RegularExpression', value: pattern }],
  }).success;
}

/** Whether the proxy's routing picks the rule holding the pattern for this header value. */
function proxyMatches(pattern: string, value: string): boolean {
  const table = prepareTable(
    compileRoutingTable(
      [
        route('chat', {
          rules: [
            {
              name: 'special',
              matches: [{ headers: [{ name: 'x-v', type: 'RegularExpression', value: pattern }] }],
              backendRefs: [{ name: 'a' }],
            },
            { name: 'rest', backendRefs: [{ name: 'b' }] },
          ],
        }),
      ],
      [backend('a'), backend('b')],
    ),
  );
  const decision = selectBackends(table, facts({ model: 'chat', headers: { 'x-v': value } }), {
    rng: seededRandom(1),
    live: { available: () => true, latencyMs: () => undefined, inFlight: () => 0 },
  });
  if (!decision.ok) throw new Error(decision.error.message);
  return decision.ruleName === 'special';
}

test('the schema accepts exactly the patterns RE2 compiles', () => {
  const rng = seededRandom(11);
  const corpus = [...FIXED_PATTERNS, ...Array.from({ length: 400 }, () => randomPattern(rng))];
  let accepted = 0;
  for (const pattern of corpus) {
    expect({ pattern, accepted: schemaAccepts(pattern) }).toEqual({
      pattern,
      accepted: re2Compiles(pattern),
    });
    if (re2Compiles(pattern)) accepted++;
  }
  // The corpus exercises both sides.
  expect(accepted).toBeGreaterThan(50);
  expect(corpus.length - accepted).toBeGreaterThan(50);
});

test('the proxy matches a header exactly when RE2 matches the whole value', () => {
  const rng = seededRandom(12);
  const patterns = [
    ...FIXED_PATTERNS,
    ...Array.from({ length: 300 }, () => randomPattern(rng)),
  ].filter(re2Compiles);
  let matched = 0;
  for (const pattern of patterns) {
    const values = [
      'a',
      'ab',
      'team42',
      'BETA-x',
      'v12',
      ...Array.from({ length: 6 }, () => randomValue(rng)),
    ];
    for (const value of values) {
      const expected = RE2JS.compile(pattern).matches(value);
      expect({ pattern, value, matched: proxyMatches(pattern, value) }).toEqual({
        pattern,
        value,
        matched: expected,
      });
      if (expected) matched++;
    }
  }
  expect(matched).toBeGreaterThan(50);
});

test.each<[string, string, boolean]>([
  ['team[[:digit:]]+', 'team42', true],
  ['(?i)beta-.*', 'BETA-7', true],
  ['v[0-9]+', 'xv12', false], // whole value, as documented
  ['v[0-9]+', 'v12x', false],
  ['a|b', 'ab', false],
])('%s against %j: %s', (pattern, value, expected) => {
  expect(proxyMatches(pattern, value)).toBe(expected);
});

test('catastrophic patterns against long values finish (linear time)', () => {
  // 16 KiB is Node's default limit for all headers together. A backtracking
  // engine takes longer than the age of the universe here; RE2 takes
  // milliseconds. The bound is generous so a busy machine cannot flake it.
  const long = 'a'.repeat(16 * 1024);
  const started = Date.now();
  for (const pattern of ['(a+)+', '([a-z0-9]+-?)+', '(x+x+)+y', '(a|a)*b']) {
    expect(proxyMatches(pattern, `${long}!`)).toBe(false);
    expect(proxyMatches(pattern, 'a'.repeat(31) + '!')).toBe(false);
  }
  expect(Date.now() - started).toBeLessThan(5_000);
});
