// Header regular expressions (`type: RegularExpression`) are RE2, as the API
// documents and as the API server checks them (CEL's matches() is Go's RE2).
// re2js, a port of RE2, compiles them here too, so the CRD, the controller,
// `modelroute validate` and the proxy accept the same patterns and match them
// the same way, in time linear in the header's length: a JavaScript RegExp
// backtracks, and `(a+)+` against a 32-byte header held the proxy for 38 s.
import { RE2JS } from 're2js';

export const RE2_SYNTAX_URL = 'https://github.com/google/re2/wiki/Syntax';

export type HeaderRegexCompiled =
  { ok: true; matcher: HeaderRegex } | { ok: false; reason: string };

/** A compiled pattern; `matches` is true when it matches the whole value. */
export interface HeaderRegex {
  matches(value: string): boolean;
}

/** Compiles an RE2 pattern, or says why it is not one (re2js's own words). */
export function compileHeaderRegex(pattern: string): HeaderRegexCompiled {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  // Full match, as documented ("must match the whole value"): testExact
  // anchors at both ends, like the ^(?:…)$ the proxy used before.
  return { ok: true, matcher: { matches: (value) => re.testExact(value) } };
}
