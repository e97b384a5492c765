import { seededRandom } from '../routing/random.js';
import { ProxyError } from './errors.js';
import { parseRequestBody } from './request-body.js';

/** Depth of a parsed JSON value: objects and arrays count one level each. */
function depthOf(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
  return 1 + Math.max(0, ...children.map(depthOf));
}

const rng = seededRandom(5);
const TRICKY = ['[', ']', '{', '}', '"', '\\', '\\"', 'é', '🎉', ' ', 'a'];

function trickyString(): string {
  let s = '';
  for (let i = Math.floor(rng() * 6); i > 0; i--)
    s += TRICKY[Math.floor(rng() * TRICKY.length)] as string;
  return s;
}

/** A random JSON value exactly `depth` levels deep, with strings full of brackets and quotes. */
function nested(depth: number): unknown {
  if (depth === 0) return rng() < 0.5 ? trickyString() : Math.floor(rng() * 100);
  const inner = nested(depth - 1);
  const sibling = trickyString();
  return rng() < 0.5 ? [sibling, inner] : { [sibling]: inner, k: sibling };
}

function nestingRefused(body: string): boolean {
  try {
    parseRequestBody('chat', Buffer.from(body), 'application/json');
    return false;
  } catch (err) {
    return err instanceof ProxyError && /nested more than 128 levels/.test(err.message);
  }
}

test('bodies nested deeper than 128 levels are refused, exactly those, whatever the strings hold', () => {
  for (let i = 0; i < 300; i++) {
    const depth = 100 + Math.floor(rng() * 60);
    const body = {
      model: 'x',
      messages: [{ role: 'user', content: trickyString() }],
      metadata: nested(depth),
    };
    const text = JSON.stringify(body);
    expect({ depth, refused: nestingRefused(text) }).toEqual({
      depth,
      refused: depthOf(body) > 128,
    });
  }
});

test('an 8 MiB "[[[[…" is refused before it is parsed', () => {
  const half = 4 * 1024 * 1024;
  const body = `{"model":"x","messages":[],"m":${'['.repeat(half)}${']'.repeat(half)}}`;
  expect(nestingRefused(body)).toBe(true);
});
