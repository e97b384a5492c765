import { seededRandom } from '../routing/random.js';
import { windowFigures, type Arrival } from './quotas-windows.js';

/** Every window start on a 1 ms grid (integer times): slow, obviously right. */
function bruteForce(arrivals: Arrival[], from: number, to: number, w: number) {
  const total = (s: number) =>
    arrivals.filter((a) => a.atMs >= s && a.atMs < s + w).reduce((sum, a) => sum + a.weight, 0);
  let max = 0;
  const first = Math.min(from, ...arrivals.map((a) => a.atMs));
  const last = Math.max(to, ...arrivals.map((a) => a.atMs));
  for (let s = first - w; s <= last; s++) max = Math.max(max, total(s));
  let min: number | null = null;
  for (let s = from; s <= to - w; s++) min = min === null ? total(s) : Math.min(min, total(s));
  return { max, min };
}

describe('windowFigures', () => {
  test('counts a burst in one window and the gap in another', () => {
    const arrivals = [0, 10, 20, 100, 110].map((atMs) => ({ atMs, weight: 1 }));
    const f = windowFigures(arrivals, 0, 130, 30);
    expect(f.max).toBe(3);
    expect(f.maxAtMs).toBe(0);
    // A window starting just after 20 holds nothing until 100.
    expect(f.minFull).toBe(0);
  });

  test('a run shorter than a window has no full window', () => {
    const f = windowFigures([{ atMs: 5, weight: 2 }], 0, 50, 60);
    expect(f).toMatchObject({ max: 2, minFull: null, fullWindowStarts: 0 });
  });

  test('an arrival exactly one window after another is in the next window, not this one', () => {
    const f = windowFigures(
      [
        { atMs: 0, weight: 1 },
        { atMs: 60, weight: 1 },
      ],
      0,
      120,
      60,
    );
    expect(f.max).toBe(1);
  });

  test('matches a brute-force scan on seeded random arrivals and weights', () => {
    const rng = seededRandom(14);
    for (let trial = 0; trial < 200; trial++) {
      const n = Math.floor(rng() * 40);
      const span = 50 + Math.floor(rng() * 300);
      const arrivals = Array.from({ length: n }, () => ({
        atMs: Math.floor(rng() * span),
        weight: 1 + Math.floor(rng() * 5),
      }));
      const w = 5 + Math.floor(rng() * 60);
      const from = Math.floor(rng() * 20);
      const to = from + Math.floor(rng() * span);
      const f = windowFigures(arrivals, from, to, w);
      const expected = bruteForce(arrivals, from, to, w);
      expect({ trial, max: f.max, min: f.minFull }).toEqual({
        trial,
        max: expected.max,
        min: expected.min,
      });
    }
  });
});
