import { seededRandom } from '../routing/random.js';
import { KEY_SHAPES, keyForms } from '../../test/support/key-shapes.js';
import { REDACTED, Redactor } from './redact.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function pick(rng: () => number, chars: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += chars[Math.floor(rng() * chars.length)];
  return out;
}

/** Ways text carries a key: raw, quoted, in a header, a query string, encoded. */
const CARRIERS: ((key: string) => string)[] = [
  (k) => `Incorrect API key provided: ${k}.`,
  (k) => `{"error":{"message":"bad key ${JSON.stringify(k).slice(1, -1)}"}}`,
  (k) => `Authorization: Bearer ${k}`,
  (k) => `GET /v1/models?api-key=${encodeURIComponent(k)}&x=1`,
  (k) => `x-api-key: ${k}`,
  (k) => `basic ${Buffer.from(k).toString('base64')} was refused`,
  (k) => `token=${Buffer.from(k).toString('base64url')}`,
  (k) => `(${k})`,
];

const NOISE = `${ALNUM} .,:;"'{}[]()\n\t-_/=+*&?%`;

describe('Redactor', () => {
  test('fuzz: random keys of every shape, embedded in random text, never survive', () => {
    const rng = seededRandom(2026);
    const leaks: { shape: string; text: string; out: string }[] = [];
    for (let i = 0; i < 3_000; i++) {
      const names = Object.keys(KEY_SHAPES);
      const shape = names[Math.floor(rng() * names.length)] as string;
      const key = (KEY_SHAPES[shape] as (r: () => number) => string)(rng);
      const redactor = new Redactor();
      // The opaque shape has no pattern: it is caught because the proxy knows it.
      if (shape === 'opaque' || rng() < 0.5) redactor.remember(key);
      const carrier = CARRIERS[Math.floor(rng() * CARRIERS.length)] as (k: string) => string;
      const text = `${pick(rng, NOISE, Math.floor(rng() * 40))} ${carrier(key)} ${pick(rng, NOISE, Math.floor(rng() * 40))}`;
      const out = redactor.text(text);
      const forms = keyForms(key);
      for (const form of forms) if (out.includes(form)) leaks.push({ shape, text, out });
      if (!out.includes(REDACTED)) leaks.push({ shape, text, out });
    }
    expect(leaks).toEqual([]);
  });

  test('prose and ordinary identifiers survive', () => {
    const redactor = new Redactor();
    for (const text of [
      'Bearer token missing',
      'model gpt-4o-mini does not exist',
      "This model's maximum context length is 128000 tokens. However, you requested 130000 tokens",
      'max_tokens: 4096',
      'sk-learn is a library',
      'request req_0123456789abcdef0123456789abcdef failed',
    ])
      expect(redactor.text(text)).toBe(text);
  });

  test('keyed forms keep their key name', () => {
    const redactor = new Redactor();
    expect(redactor.text('url?api-key=abcdef123456&x=1')).toBe(`url?api-key=${REDACTED}&x=1`);
    expect(redactor.text('Bearer abcdefghijklmnop')).toBe(`Bearer ${REDACTED}`);
  });

  test('a known key is redacted even where no shape would catch it', () => {
    const redactor = new Redactor();
    redactor.remember('plain words here');
    expect(redactor.text('the key was plain words here!')).toBe(`the key was ${REDACTED}!`);
    // Too short to redact by value without blanking ordinary text.
    redactor.remember('abc');
    expect(redactor.text('abc')).toBe('abc');
  });
});
