// --expires, key states and ages as `modelroute keys` reads and shows them (fixed clock).
import type { ModelAPIKey } from '../api/v1alpha1/index.js';
import { apiKeyObject } from './__fixtures__/api-keys.js';
import { formatAge, keyState, parseExpiry, rfc3339 } from './keys-format.js';

const NOW = Date.parse('2026-12-03T04:00:00.250Z');

describe('parseExpiry', () => {
  it.each([
    ['30d', '2027-01-02T04:00:00Z'],
    ['2w', '2026-12-17T04:00:00Z'],
    ['12h', '2026-12-03T16:00:00Z'],
    ['1h30m', '2026-12-03T05:30:00Z'],
    ['2027-01-31T00:00:00Z', '2027-01-31T00:00:00Z'],
    ['2027-01-31T02:00:00+02:00', '2027-01-31T00:00:00Z'],
    ['2027-01-31T00:00:00.999Z', '2027-01-31T00:00:00Z'],
  ])('reads %s as %s', (value, expiresAt) => {
    expect(parseExpiry(value, NOW)).toEqual({ ok: true, expiresAt });
  });

  it.each([
    ['30', 'must be a lifetime such as "30d"'],
    ['30 days', 'got "30 days"'],
    ['2027-01-31', 'got "2027-01-31"'],
    ['2027-02-30T00:00:00Z', 'got "2027-02-30T00:00:00Z"'],
    ['-1d', 'got "-1d"'],
    ['0d', 'is not in the future'],
    ['500ms', 'is not in the future'],
    ['2026-12-03T04:00:00Z', 'is not in the future (now is 2026-12-03T04:00:00Z)'],
    ['99999999d', 'is too far in the future'],
  ])('refuses %s: %s', (value, message) => {
    const result = parseExpiry(value, NOW);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(message);
  });

  it('gives a future whole-second instant for any lifetime (seeded random lifetimes)', () => {
    let seed = 13;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const units = { d: 86_400_000, w: 7 * 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
    for (let i = 0; i < 2000; i++) {
      const unit = (['d', 'w', 'h', 'm', 's'] as const)[next() % 5] ?? 'd';
      const n = 1 + (next() % 5000);
      const now = 1_700_000_000_000 + (next() % 1_000_000_000);
      const result = parseExpiry(`${n}${unit}`, now);
      if (!result.ok) throw new Error(`${n}${unit} refused: ${result.message}`);
      const at = Date.parse(result.expiresAt);
      expect(at % 1000).toBe(0);
      expect(at).toBeGreaterThan(now);
      expect(now + n * units[unit] - at).toBeGreaterThanOrEqual(0);
      expect(now + n * units[unit] - at).toBeLessThan(1000);
      expect(result.expiresAt).toBe(rfc3339(at));
    }
  });
});

describe('keyState', () => {
  const key = (spec: Partial<ModelAPIKey['spec']>) => apiKeyObject('ns', 'k', spec);

  it('is Revoked before Expired, Expired at the instant itself, else Active', () => {
    expect(keyState(key({}), NOW)).toBe('Active');
    expect(keyState(key({ expiresAt: '2026-12-03T04:00:01Z' }), NOW)).toBe('Active');
    expect(keyState(key({ expiresAt: '2026-12-03T04:00:00.250Z' }), NOW)).toBe('Expired');
    expect(keyState(key({ expiresAt: '2026-12-01T00:00:00Z', revoked: true }), NOW)).toBe(
      'Revoked',
    );
    expect(keyState(key({ revoked: true }), NOW)).toBe('Revoked');
  });
});

describe('formatAge', () => {
  it.each([
    [-5_000, '0s'],
    [45_000, '45s'],
    [119_000, '119s'],
    [330_000, '5m30s'],
    [600_000, '10m'],
    [2 * 3_600_000 + 59 * 60_000, '179m'],
    [5.5 * 3_600_000, '5h30m'],
    [8 * 3_600_000, '8h'],
    [47 * 3_600_000, '47h'],
    [3 * 86_400_000 + 4 * 3_600_000, '3d4h'],
    [400 * 86_400_000, '400d'],
    [3 * 365 * 86_400_000, '3y'],
  ])('shows %d ms as %s', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});
