// Header regular expressions (`type: RegularExpression`) are RE2, as the API
// documents and as the API server checks them (CEL's matches() is Go's RE2).
// re2js, a port of RE2, compiles them here too, so the CRD, the controller,
// `modelroute validate` and the proxy accept the same patterns and match them
// the same way, in time linear in the header's length: a JavaScript RegExp
// backtracks, and `(a+)+` against a 32-byte header held the proxy for 38 s.
import { createRequire } from 'node:module';
import type * as Re2js from 're2js';
import type { RE2JS } from 're2js';

let re2js: typeof RE2JS | undefined;
/**
 * re2js, loaded at the first pattern: ~260 KB of source, 0.6 MB of V8 heap in
 * a sidecar whose routes match no header by regular expression (most). Its
 * CommonJS build, synchronous, so compiling stays a plain call.
 */
function re2(): typeof RE2JS {
  re2js ??= (createRequire(import.meta.url)('re2js') as typeof Re2js).RE2JS;
  return re2js;
}

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
    re = re2().compile(pattern);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  // Full match, as documented ("must match the whole value"): testExact
  // anchors at both ends, like the ^(?:…)$ the proxy used before.
  return { ok: true, matcher: { matches: (value) => re.testExact(value) } };
}
