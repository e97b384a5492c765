// Provider keys in every shape the redactor knows, generated from a seeded PRNG.
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';

function pick(rng: () => number, chars: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += chars[Math.floor(rng() * chars.length)];
  return out;
}

export const KEY_SHAPES: Record<string, (rng: () => number) => string> = {
  openai: (rng) => `sk-${pick(rng, ALNUM, 48)}`,
  'openai-project': (rng) => `sk-proj-${pick(rng, `${ALNUM}_-`, 60)}`,
  anthropic: (rng) => `sk-ant-api03-${pick(rng, `${ALNUM}_-`, 80)}AA`,
  'azure-hex': (rng) => pick(rng, HEX, 32),
  'azure-84': (rng) => pick(rng, ALNUM, 84),
  // A value with no recognisable shape: caught only because the proxy read it.
  opaque: (rng) => `${pick(rng, ALNUM, 6)}/+=:${pick(rng, ALNUM, 10)}`,
};

/** The forms a key may take in text: plain, URL-encoded, base64. */
export function keyForms(key: string): string[] {
  const b64 = Buffer.from(key).toString('base64');
  return [
    key,
    encodeURIComponent(key),
    b64.replace(/=+$/, ''),
    Buffer.from(key).toString('base64url'),
  ];
}
