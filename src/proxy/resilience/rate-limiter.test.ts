import { RateLimiter } from './rate-limiter.js';
import { seededRandom } from '../../routing/random.js';

function setup(limits: { rpm?: number; tpm?: number }) {
  let t = 0;
  const limiter = new RateLimiter(limits, () => t);
  return {
    limiter,
    at: (ms: number) => {
      t = ms;
    },
  };
}

test('without limits everything is accepted', () => {
  const { limiter } = setup({});
  for (let i = 0; i < 1000; i++) limiter.record(1_000_000);
  expect(limiter.canAccept(1_000_000)).toBe(true);
});

describe('rpm', () => {
  test.each([1, 3, 10])(
    'rpm %i blocks request rpm+1 within 60 s and frees it when the window slides',
    (rpm) => {
      const { limiter, at } = setup({ rpm });
      for (let i = 0; i < rpm; i++) {
        expect(limiter.canAccept(0)).toBe(true);
        limiter.record(0);
      }
      expect(limiter.canAccept(0)).toBe(false);
      at(59_999);
      expect(limiter.canAccept(0)).toBe(false);
      at(60_000);
      expect(limiter.canAccept(0)).toBe(true);
    },
  );

  test('the window slides second by second', () => {
    const { limiter, at } = setup({ rpm: 3 });
    limiter.record(0); // t = 0
    at(30_500);
    limiter.record(0);
    limiter.record(0);
    expect(limiter.canAccept(0)).toBe(false);
    at(60_000); // the request of second 0 has left
    expect(limiter.canAccept(0)).toBe(true);
    limiter.record(0);
    expect(limiter.canAccept(0)).toBe(false);
    at(89_999);
    expect(limiter.canAccept(0)).toBe(false);
    at(90_000); // the two of second 30 have left
    expect(limiter.totals().requests).toBe(1);
    expect(limiter.canAccept(0)).toBe(true);
  });

  test('a long idle period leaves nothing behind (ring slots are reused)', () => {
    const { limiter, at } = setup({ rpm: 2 });
    limiter.record(0);
    limiter.record(0);
    at(3_600_000); // same ring slot as t = 0, an hour later
    expect(limiter.canAccept(0)).toBe(true);
    limiter.record(0);
    expect(limiter.totals()).toEqual({ requests: 1, tokens: 0 });
  });
});

describe('tpm', () => {
  test('counts estimated tokens against the limit', () => {
    const { limiter } = setup({ tpm: 1000 });
    expect(limiter.canAccept(1000)).toBe(true);
    expect(limiter.canAccept(1001)).toBe(false);
    limiter.record(600);
    expect(limiter.canAccept(400)).toBe(true);
    expect(limiter.canAccept(401)).toBe(false);
  });

  test('adjust corrects the estimate once real usage is known', () => {
    const { limiter, at } = setup({ tpm: 1000 });
    limiter.record(600);
    at(2_000);
    limiter.adjust(-300, 0); // used 300 only
    expect(limiter.totals().tokens).toBe(300);
    expect(limiter.canAccept(700)).toBe(true);
    limiter.adjust(500, 0); // the answer was long after all
    expect(limiter.canAccept(200)).toBe(true);
    expect(limiter.canAccept(201)).toBe(false);
    // The correction leaves the window with the request it belongs to.
    at(60_000);
    expect(limiter.totals().tokens).toBe(0);
  });

  test('adjust without a time counts now', () => {
    const { limiter, at } = setup({ tpm: 1000 });
    limiter.record(100);
    at(30_000);
    limiter.adjust(400);
    at(60_000); // the record left, the adjustment stays
    expect(limiter.totals().tokens).toBe(400);
  });

  test('a correction for a request already out of the window is dropped', () => {
    const { limiter, at } = setup({ tpm: 1000 });
    limiter.record(900);
    at(61_000);
    limiter.record(100);
    limiter.adjust(-900, 0);
    expect(limiter.totals().tokens).toBe(100);
  });

  test('negative corrections never make the window negative', () => {
    const { limiter } = setup({ tpm: 1000 });
    limiter.record(10);
    limiter.adjust(-500);
    expect(limiter.totals().tokens).toBe(0);
    expect(limiter.canAccept(1000)).toBe(true);
  });
});

test('both limits apply', () => {
  const { limiter } = setup({ rpm: 2, tpm: 100 });
  limiter.record(90);
  expect(limiter.canAccept(20)).toBe(false); // tpm
  expect(limiter.canAccept(10)).toBe(true);
  limiter.record(0);
  expect(limiter.canAccept(0)).toBe(false); // rpm
});

test('setLimits replaces the limits and keeps the window', () => {
  const { limiter } = setup({ rpm: 5 });
  limiter.record(0);
  limiter.record(0);
  limiter.setLimits({ rpm: 2 });
  expect(limiter.canAccept(0)).toBe(false);
  limiter.setLimits({});
  expect(limiter.canAccept(0)).toBe(true);
});

test('a limit of 0 admits nothing (a fleet share can be 0); msUntilOldestLeaves is the honest wait', () => {
  const { limiter, at } = setup({ rpm: 0 });
  expect(limiter.canAccept(0)).toBe(false);
  expect(limiter.msUntilOldestLeaves()).toBe(0); // nothing counted
  limiter.setLimits({ rpm: 5 });
  at(2_300);
  limiter.record(0);
  at(10_000);
  expect(limiter.msUntilOldestLeaves()).toBe(52_000); // second 2 leaves at 62 s
});

/**
 * The limiter before it kept running totals (it summed the ring on every
 * check), kept as the oracle: the running totals must give the same answers
 * after any sequence of records, corrections and clock moves, back included.
 */
class RecountingLimiter {
  private readonly ring = Array.from({ length: 60 }, () => ({
    second: -Infinity,
    requests: 0,
    tokens: 0,
  }));

  constructor(
    private limits: { rpm?: number; tpm?: number },
    private readonly now: () => number,
  ) {}

  setLimits(limits: { rpm?: number; tpm?: number }): void {
    this.limits = limits;
  }

  canAccept(tokens: number): boolean {
    const { rpm, tpm } = this.limits;
    const { requests, tokens: used } = this.totals();
    if (rpm !== undefined && requests + 1 > rpm) return false;
    return !(tpm !== undefined && used + Math.max(0, tokens) > tpm);
  }

  record(tokens: number): void {
    const bucket = this.current();
    bucket.requests++;
    bucket.tokens += tokens;
  }

  adjust(delta: number, recordedAt?: number): void {
    if (recordedAt === undefined) {
      this.current().tokens += delta;
      return;
    }
    const second = Math.floor(recordedAt / 1000);
    if (second <= Math.floor(this.now() / 1000) - 60) return;
    const bucket = this.ring[((second % 60) + 60) % 60];
    if (bucket?.second === second) bucket.tokens += delta;
  }

  totals(): { requests: number; tokens: number } {
    const oldest = Math.floor(this.now() / 1000) - 60;
    let requests = 0;
    let tokens = 0;
    for (const bucket of this.ring)
      if (bucket.second > oldest) {
        requests += bucket.requests;
        tokens += bucket.tokens;
      }
    return { requests, tokens: Math.max(0, tokens) };
  }

  private current() {
    const second = Math.floor(this.now() / 1000);
    const bucket = this.ring[((second % 60) + 60) % 60] as (typeof this.ring)[number];
    if (bucket.second !== second) Object.assign(bucket, { second, requests: 0, tokens: 0 });
    return bucket;
  }
}

describe('running totals', () => {
  test.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'seed %i: 3,000 random records, corrections and clock moves answer as a full recount',
    (seed) => {
      const rng = seededRandom(seed);
      const int = (min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
      let t = int(0, 10_000_000);
      const clock = () => t;
      const limits = { rpm: int(0, 400), tpm: int(0, 200_000) };
      const limiter = new RateLimiter(limits, clock);
      const oracle = new RecountingLimiter(limits, clock);
      const recordedAt: number[] = [];
      for (let step = 0; step < 3_000; step++) {
        const op = rng();
        if (op < 0.35) {
          const tokens = int(0, 2_000);
          limiter.record(tokens);
          oracle.record(tokens);
          recordedAt.push(t);
        } else if (op < 0.55) {
          // A correction for an earlier request (maybe out of the window), or counting now.
          const delta = int(-1_500, 1_500);
          const at = rng() < 0.8 ? recordedAt[int(0, recordedAt.length - 1)] : undefined;
          limiter.adjust(delta, at);
          oracle.adjust(delta, at);
        } else if (op < 0.9) {
          t += int(0, 1_500); // requests a few hundred ms apart, seconds passing
        } else if (op < 0.95) {
          t += int(0, 200_000); // idle for up to a few windows
        } else if (op < 0.98) {
          t -= int(0, 90_000); // the wall clock stepped back
        } else {
          const next = { rpm: int(0, 400), tpm: int(0, 200_000) };
          limiter.setLimits(next);
          oracle.setLimits(next);
        }
        expect(limiter.totals()).toEqual(oracle.totals());
        const tokens = int(0, 5_000);
        expect(limiter.canAccept(tokens)).toBe(oracle.canAccept(tokens));
      }
    },
  );
});
