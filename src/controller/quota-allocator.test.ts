import { describe, expect, test } from '@jest/globals';
import { RateLimiter } from '../proxy/resilience/rate-limiter.js';
import { seededRandom } from '../routing/random.js';
import {
  allocateAllowances,
  allowedOverspendUSD,
  NEAR_END_INTERVALS,
  type PodAllowance,
  allocateShares,
  OVERCOMMIT_FRACTION,
  overshootBound,
  UNASSIGNED_SHARE_DIVISOR,
  type PodLimitUsage,
} from './quota-allocator.js';
import { DemandRates } from './quota-demand.js';

const pod = (podKey: string, over: Partial<PodLimitUsage> = {}): PodLimitUsage => ({
  podKey,
  windowRequests: 0,
  windowTokens: 0,
  inFlight: 0,
  demand: { requests: 0, tokens: 0 },
  reachable: true,
  ...over,
});

describe('allocateShares', () => {
  test('the busy proxy gets most of the free capacity; nobody gets less than it counts', () => {
    const shares = allocateShares({
      limit: { rpm: 600 },
      pods: [
        pod('a', { windowRequests: 100, demand: { requests: 2000, tokens: 0 } }),
        pod('b', { windowRequests: 10, demand: { requests: 20, tokens: 0 } }),
        pod('c'),
      ],
    });
    const a = shares.get('a')!.share.rpm!;
    const b = shares.get('b')!.share.rpm!;
    const c = shares.get('c')!.share.rpm!;
    expect(a + b + c).toBe(600);
    expect(a).toBeGreaterThan(400);
    // b keeps what it counts, and some of the free capacity by its demand.
    expect(b).toBeGreaterThan(10);
    // The idle proxy has a little, so its first requests are not refused until the next report.
    expect(c).toBeGreaterThanOrEqual(1);
    expect(c).toBeLessThanOrEqual(Math.ceil(600 * 0.05));
    expect(shares.get('a')!.safe.rpm).toBe(200);
    expect(shares.get('c')!.safe.rpm).toBe(c);
  });

  test('an unreachable proxy keeps its last share reserved; one never assigned holds limit / 20', () => {
    const shares = allocateShares({
      limit: { rpm: 600, maxConcurrency: 10 },
      pods: [
        pod('a', { demand: { requests: 5000, tokens: 0 } }),
        pod('gone', { reachable: false, lastShare: { rpm: 250, maxConcurrency: 4 } }),
        pod('new', { reachable: false }),
      ],
    });
    expect(shares.get('gone')!.share).toEqual({ rpm: 250, maxConcurrency: 4 });
    expect(shares.get('new')!.share.rpm).toBe(600 / UNASSIGNED_SHARE_DIVISOR);
    expect(shares.get('a')!.share.rpm).toBe(600 - 250 - 30);
    expect(shares.get('a')!.share.maxConcurrency).toBe(10 - 4 - 0.5 - 0.5);
  });

  test('a fleet already over the limit is scaled back to it (each refuses until its window drains)', () => {
    const shares = allocateShares({
      limit: { rpm: 100 },
      pods: [pod('a', { windowRequests: 120 }), pod('b', { windowRequests: 80 })],
    });
    expect(shares.get('a')!.share.rpm).toBe(60);
    expect(shares.get('b')!.share.rpm).toBe(40);
  });

  test('token demand counts refused requests at the tokens admitted ones cost', () => {
    // Both admitted 20,000 tokens a minute lately; a refused 80% of what it was
    // asked for, b nothing. a wants five times what it got; b has what it wants.
    const shares = allocateShares({
      limit: { tpm: 100_000 },
      pods: [
        pod('a', {
          windowTokens: 20_000,
          demand: { requests: 500, tokens: 20_000, refused: 400 },
        }),
        pod('b', {
          windowTokens: 20_000,
          demand: { requests: 100, tokens: 20_000, refused: 0 },
        }),
      ],
    });
    const a = shares.get('a')!.share.tpm! - 20_000;
    const b = shares.get('b')!.share.tpm! - 20_000;
    expect(a).toBeGreaterThan(4 * b);
  });

  test('a proxy that admitted nothing lately is weighed at the fleet mean tokens per request', () => {
    const shares = allocateShares({
      limit: { tpm: 10_000 },
      pods: [
        pod('starved', { demand: { requests: 60, tokens: 0, refused: 60 } }),
        pod('fed', { windowTokens: 2_000, demand: { requests: 10, tokens: 2_000, refused: 0 } }),
      ],
    });
    // starved: 60 requests × 200 tokens, all refused; fed: 2,000 × 0.25.
    expect(shares.get('starved')!.share.tpm!).toBeGreaterThan(6_000);
  });

  test('saturated proxies get one unit over their part, together at most OVERCOMMIT_FRACTION of the limit', () => {
    const saturated = (k: string) =>
      pod(k, {
        windowRequests: 100,
        windowTokens: 20_000,
        inFlight: 2,
        demand: { requests: 200, tokens: 20_000, refused: 100 },
      });
    const shares = allocateShares({
      limit: { rpm: 600, tpm: 120_000, maxConcurrency: 12 },
      pods: [saturated('a'), saturated('b'), pod('quiet', { windowRequests: 10 })],
    });
    const sum = (a: 'rpm' | 'tpm' | 'maxConcurrency') =>
      [...shares.values()].reduce((s, v) => s + v.share[a]!, 0);
    // One request each for a and b; one mean request's tokens (200) each.
    expect(sum('rpm')).toBe(602);
    expect(sum('tpm')).toBe(120_400);
    // Never for concurrency: what is in flight does not drain on its own.
    expect(sum('maxConcurrency')).toBe(12);
    // The safe share never over-commits.
    expect([...shares.values()].reduce((s, v) => s + v.safe.rpm!, 0)).toBeLessThanOrEqual(600);

    // 40 saturated proxies on 600 rpm: the cap (12) goes to the busiest.
    const many = allocateShares({
      limit: { rpm: 600 },
      pods: Array.from({ length: 40 }, (_, i) =>
        pod(`p${i}`, {
          windowRequests: 14,
          demand: { requests: 30 + i, tokens: 0, refused: 15 },
        }),
      ),
    });
    const total = [...many.values()].reduce((s, v) => s + v.share.rpm!, 0);
    expect(total).toBe(600 + Math.floor(600 * OVERCOMMIT_FRACTION));
  });

  test('over the limit, the over-commit does not creep: the fleet is held to limit + C', () => {
    // 20 saturated proxies counting 630 of 600 (C = 12): everyone is scaled to
    // 612 in total, each below its count, and stays there round after round.
    let counts: number[] = Array.from({ length: 20 }, (_, i) => (i < 10 ? 31 : 32));
    for (let round = 0; round < 10; round++) {
      const shares = allocateShares({
        limit: { rpm: 600 },
        pods: counts.map((c, i) =>
          pod(`p${i}`, { windowRequests: c, demand: { requests: 60, tokens: 0, refused: 30 } }),
        ),
      });
      const got = counts.map((_, i) => shares.get(`p${i}`)!.share.rpm!);
      expect(got.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(612);
      // Each proxy admits up to its share (never beyond it), as a real one does.
      counts = counts.map((c, i) => Math.max(c, got[i]!));
    }
    expect(counts.reduce((a, b) => a + b, 0)).toBe(630);
  });

  test('property: Σ shares ≤ limit, shares ≥ counts when they fit, safe ≤ share and Σ safe ≤ limit', () => {
    const rng = seededRandom(14);
    const int = (n: number) => Math.floor(rng() * n);
    for (let run = 0; run < 600; run++) {
      const rpm = 1 + int(5_000);
      const tpm = rng() < 0.5 ? 1 + int(1_000_000) : undefined;
      const maxConcurrency = rng() < 0.5 ? 1 + int(200) : undefined;
      const limit = { rpm, tpm, maxConcurrency };
      const n = 1 + int(30);
      const pods = Array.from({ length: n }, (_, i) =>
        pod(`p${i}`, {
          windowRequests: int(Math.ceil((rpm * 1.2) / n) + 1),
          windowTokens: int(Math.ceil(((tpm ?? 0) * 1.2) / n) + 1),
          inFlight: int(Math.ceil(((maxConcurrency ?? 0) * 1.2) / n) + 1),
          demand: { requests: rng() < 0.3 ? 0 : int(rpm * 3), tokens: int((tpm ?? 0) * 3) },
          reachable: rng() < 0.85,
          lastShare:
            rng() < 0.5 ? { rpm: int(rpm / n + 1), tpm: int((tpm ?? 0) / n + 1) } : undefined,
        }),
      );
      const shares = allocateShares({ limit, pods });
      for (const d of [
        ['rpm', 'windowRequests'],
        ['tpm', 'windowTokens'],
        ['maxConcurrency', 'inFlight'],
      ] as const) {
        const max = limit[d[0]];
        if (max === undefined) continue;
        const got = pods.map((p) => shares.get(p.podKey)!);
        const reserved = pods.reduce(
          (s, p) => s + (p.reachable ? 0 : (p.lastShare?.[d[0]] ?? max / UNASSIGNED_SHARE_DIVISOR)),
          0,
        );
        const counted = pods.reduce((s, p) => s + (p.reachable ? p[d[1]] : 0), 0);
        const sum = got.reduce((s, g) => s + g.share[d[0]]!, 0);
        const ctx = `run ${run} ${d[0]}`;
        const overcommit = d[0] === 'maxConcurrency' ? 0 : Math.floor(max * OVERCOMMIT_FRACTION);
        expect({ ctx, ok: sum <= Math.max(max, reserved) + overcommit + 1e-6 }).toEqual({
          ctx,
          ok: true,
        });
        const safeSum = got.reduce((s, g) => s + g.safe[d[0]]!, 0);
        expect({ ctx, ok: safeSum <= max + 1e-6 }).toEqual({ ctx, ok: true });
        pods.forEach((p, i) => {
          const g = got[i]!;
          expect(g.safe[d[0]]!).toBeLessThanOrEqual(g.share[d[0]]!);
          if (p.reachable && reserved + counted <= max)
            expect({ ctx, pod: p.podKey, ok: g.share[d[0]]! >= p[d[1]] }).toEqual({
              ctx,
              pod: p.podKey,
              ok: true,
            });
        });
        // Nothing wasted: when the counts fit, the whole limit is handed out (to within rounding).
        if (reserved + counted <= max && pods.some((p) => p.reachable))
          expect(sum).toBeGreaterThan(max - 1);
      }
    }
  });
});

describe('allocateAllowances', () => {
  const allowance = (got: Map<string, PodAllowance>, pod: string) => got.get(pod)!.allowanceUSD;
  const total = (got: Map<string, PodAllowance>) =>
    [...got.values()].reduce((s, v) => s + v.allowanceUSD, 0);

  test('far from the end every reachable proxy may spend all that is left, even one with no recent spend', () => {
    // $0.15 left, the fleet spends $0.12 a minute ($0.004 per 2 s interval): far from the end.
    const got = allocateAllowances({
      budgetUSD: 0.18,
      remainingUSD: 0.15,
      intervalMs: 2_000,
      pods: [
        { podKey: 'a', spendRate: 0.1, reachable: true },
        { podKey: 'b', spendRate: 0.02, reachable: true },
        { podKey: 'c', spendRate: 0, reachable: true },
        { podKey: 'd', spendRate: 0, reachable: false, lastAllowanceUSD: 0.01 },
      ],
    });
    expect(allowance(got, 'a')).toBe(0.15);
    expect(allowance(got, 'c')).toBe(0.15);
    expect(allowance(got, 'd')).toBe(0.01);
    // Controller gone: what is left over the proxies, each.
    expect(got.get('a')!.safeAllowanceUSD).toBeCloseTo(0.15 / 4, 6);
  });

  test('near the end: by spend rate, Σ ≤ what is left + half the allowed overspend; unreachable keep theirs', () => {
    // $10 left of $1000, the fleet spends $60 a minute ($2 per interval, 5 intervals = $10).
    const got = allocateAllowances({
      budgetUSD: 1_000,
      remainingUSD: 10,
      intervalMs: 2_000,
      pods: [
        { podKey: 'a', spendRate: 45, reachable: true },
        { podKey: 'b', spendRate: 5, reachable: true },
        { podKey: 'c', spendRate: 0, reachable: true },
        { podKey: 'd', spendRate: 10, reachable: false, lastAllowanceUSD: 2 },
      ],
    });
    expect(allowance(got, 'd')).toBe(2);
    expect(allowance(got, 'a')).toBeGreaterThan(allowance(got, 'b'));
    // The quiet proxy can still spend something: an equal part of half the allowed overspend.
    const slack = allowedOverspendUSD(1_000, 50);
    expect(allowance(got, 'c')).toBeGreaterThanOrEqual(slack / 2 / 4 - 1e-6);
    expect(total(got)).toBeLessThanOrEqual(10 + slack / 2 + 1e-9);
  });

  test('property: Σ allowances ≤ what is left far from the end × proxies, near it ≤ left + half the slack; safe Σ ≤ left', () => {
    const rng = seededRandom(7);
    for (let run = 0; run < 2_000; run++) {
      const budgetUSD = rng() * 100;
      const remainingUSD = rng() < 0.1 ? 0 : rng() * budgetUSD;
      const pods = Array.from({ length: 1 + Math.floor(rng() * 25) }, (_, i) => ({
        podKey: `p${i}`,
        spendRate: rng() < 0.3 ? 0 : rng() * 5,
        reachable: rng() < 0.9,
      }));
      const intervalMs = 500 + rng() * 5_000;
      const got = allocateAllowances({ budgetUSD, remainingUSD, intervalMs, pods });
      const fleetRate = pods.reduce((s, p) => s + (p.reachable ? p.spendRate : 0), 0);
      const nearEnd =
        remainingUSD <=
        Math.max((NEAR_END_INTERVALS * fleetRate * intervalMs) / 60_000, 0.01 * budgetUSD);
      const sum = total(got);
      const bound = nearEnd
        ? remainingUSD + allowedOverspendUSD(budgetUSD, fleetRate) / 2
        : remainingUSD * pods.length;
      const safe = [...got.values()].reduce((s, v) => s + v.safeAllowanceUSD, 0);
      const each = [...got.values()].every(
        (v) => v.allowanceUSD >= 0 && v.safeAllowanceUSD <= v.allowanceUSD,
      );
      expect({ run, ok: sum <= bound + 1e-9 && safe <= remainingUSD + 1e-9 && each }).toEqual({
        run,
        ok: true,
      });
    }
  });
});

/**
 * A fleet of proxies, each a real sliding-window limiter (the proxy's own
 * RateLimiter) enforcing its share, under an injected clock; a controller
 * that reads their reports every `intervalMs` and whose assignments reach
 * each proxy `delayMs` after the report they were built from. Demand is
 * Poisson, Zipf-skewed over the proxies, ramps up over two minutes (as a
 * deployment's does: a step from 0 to twice the limit fills the window in
 * lockstep, and its holes then echo every minute for an exact limiter as much
 * as for shares), and which proxy is hot moves every 3 minutes.
 */
function simulateFleet(options: {
  seed: number;
  unit: 'rpm' | 'tpm';
  limit: number;
  pods: number;
  minutes: number;
  intervalMs: number;
  delayMs: number;
  /** Fleet demand per minute, as a multiple of the limit. */
  demandFactor: number;
}): { maxWindow: number; minWindowSaturated: number; minMinuteSaturated: number } {
  const { limit, intervalMs, delayMs, unit } = options;
  const rng = seededRandom(options.seed);
  const STEP = 100;
  const RAMP_MS = 120_000;
  const MEAN_TOKENS = 500;
  let now = 0;
  const clock = () => now;
  const unassigned = limit / UNASSIGNED_SHARE_DIVISOR;
  const pods = Array.from({ length: options.pods }, (_, i) => ({
    key: `p${i}`,
    limiter: new RateLimiter({ [unit]: unassigned }, clock),
    share: unassigned,
    lastShare: undefined as number | undefined,
    requests: 0,
    tokens: 0,
    refused: 0,
  }));
  const demand = new DemandRates();
  const weights = pods.map((_, i) => 1 / (i + 1) ** 1.2);
  const wsum = weights.reduce((a, w) => a + w, 0);
  let order = pods.map((_, i) => i);
  const pending: { at: number; shares: Map<string, number> }[] = [];
  const admittedPerStep: number[] = [];
  const poisson = (mean: number) => {
    const l = Math.exp(-mean);
    let k = 0;
    let p = rng();
    while (p > l) {
      k += 1;
      p *= rng();
    }
    return k;
  };
  // Requests per minute the demand factor means: tokens are MEAN_TOKENS a request on average.
  const requestsPerMinute = (options.demandFactor * limit) / (unit === 'tpm' ? MEAN_TOKENS : 1);
  const steps = (options.minutes * 60_000) / STEP;
  for (let s = 0; s < steps; s++) {
    now = s * STEP;
    if (now % 180_000 === 0) order = [...order].sort(() => rng() - 0.5);
    while (pending[0] && pending[0].at <= now) {
      const { shares } = pending.shift()!;
      for (const p of pods) {
        p.share = shares.get(p.key)!;
        p.lastShare = p.share;
        p.limiter.setLimits({ [unit]: p.share });
      }
    }
    if (now % intervalMs === 0) {
      const usage = pods.map((p) => {
        const totals = p.limiter.totals();
        return pod(p.key, {
          windowRequests: totals.requests,
          windowTokens: totals.tokens,
          demand: {
            requests: demand.observe(`${p.key} requests`, p.requests, now),
            tokens: demand.observe(`${p.key} tokens`, p.tokens, now),
            refused: demand.observe(`${p.key} refused`, p.refused, now),
          },
          lastShare: p.lastShare === undefined ? undefined : { [unit]: p.lastShare },
        });
      });
      const shares = allocateShares({ limit: { [unit]: limit }, pods: usage });
      pending.push({
        at: now + delayMs,
        shares: new Map([...shares].map(([k, v]) => [k, v.share[unit]!])),
      });
    }
    let admitted = 0;
    const ramp = Math.min(1, now / RAMP_MS);
    pods.forEach((p, i) => {
      const rate = ((ramp * requestsPerMinute) / 60_000) * (weights[order[i]!]! / wsum);
      for (let k = poisson(rate * STEP); k > 0; k--) {
        const tokens = unit === 'tpm' ? Math.round(MEAN_TOKENS * 2 * rng()) : 0;
        p.requests += 1;
        // A share below one request admits nothing.
        if (p.share >= 1 && p.limiter.canAccept(tokens)) {
          p.limiter.record(tokens);
          // A proxy reports the tokens of what it admitted (LimitUsage.tokens).
          p.tokens += tokens;
          admitted += unit === 'tpm' ? tokens : 1;
        } else p.refused += 1;
      }
    });
    admittedPerStep.push(admitted);
  }
  const perWindow = 60_000 / STEP;
  const saturatedFrom = (RAMP_MS + 60_000) / STEP;
  let sum = 0;
  let maxWindow = 0;
  let minWindowSaturated = Infinity;
  admittedPerStep.forEach((a, i) => {
    sum += a - (i >= perWindow ? admittedPerStep[i - perWindow]! : 0);
    if (i >= perWindow - 1) maxWindow = Math.max(maxWindow, sum);
    if (i >= saturatedFrom) minWindowSaturated = Math.min(minWindowSaturated, sum);
  });
  // Whole clock minutes too, as a benchmark printing one figure a minute counts them.
  let minMinuteSaturated = Infinity;
  for (let m = saturatedFrom / perWindow; (m + 1) * perWindow <= steps; m++)
    minMinuteSaturated = Math.min(
      minMinuteSaturated,
      admittedPerStep.slice(m * perWindow, (m + 1) * perWindow).reduce((a, b) => a + b, 0),
    );
  return { maxWindow, minWindowSaturated, minMinuteSaturated };
}

// Figures measured (seeded, so every run gives the same), 20 proxies, demand
// twice the limit, 2 s collection; delay = report to applied assignment:
//   rpm 600: see the test output (`fleet-sim` lines) and the report of issue 14.
// The same arrivals through one exact limiter (pods: 1) admit ≥ 588 in every
// sliding minute: what is left between the two is about one request of slack
// per proxy waiting for its next arrival (20 limiters instead of one).
describe('fleet simulation: 20 proxies, skewed demand, injected clock', () => {
  const cases = [
    { unit: 'rpm', limit: 600, delayMs: 0 },
    { unit: 'rpm', limit: 600, delayMs: 500 },
    { unit: 'rpm', limit: 600, delayMs: 1_000 },
    { unit: 'rpm', limit: 600, delayMs: 2_000 },
    { unit: 'tpm', limit: 300_000, delayMs: 1_000 },
  ] as const;
  for (const c of cases) {
    test(`${c.unit} limit ${c.limit}, demand 2× the limit, assignments applied ${c.delayMs} ms after the report`, () => {
      const intervalMs = 2_000;
      const got = simulateFleet({
        seed: 1400 + c.delayMs,
        pods: 20,
        minutes: 15,
        intervalMs,
        demandFactor: 2,
        ...c,
      });
      const bound = overshootBound(c.limit, intervalMs, c.delayMs);
      process.stdout.write(
        `fleet-sim ${c.unit} delay=${c.delayMs}ms limit=${c.limit} maxWindow=${got.maxWindow} ` +
          `allowed=${c.limit + bound} minWindowSaturated=${got.minWindowSaturated} ` +
          `minClockMinuteSaturated=${got.minMinuteSaturated}\n`,
      );
      expect(got.maxWindow).toBeLessThanOrEqual(c.limit + bound);
      // ≥ 95% in every clock minute once saturated; an assignment a whole
      // interval late (2 s) costs a little more.
      // tpm: a proxy refuses a request bigger than what is left of its share,
      // so each keeps up to a request's tokens (here ≤ 1,000) unused: ~3% of
      // the limit over 20 proxies.
      expect(got.minMinuteSaturated).toBeGreaterThanOrEqual(
        c.limit * (c.unit === 'tpm' ? 0.93 : c.delayMs < 2_000 ? 0.95 : 0.94),
      );
      // Every sliding minute: ≥ 92% (an exact limiter on the same arrivals: 98%).
      expect(got.minWindowSaturated).toBeGreaterThanOrEqual(
        c.limit * (c.unit === 'tpm' ? 0.9 : 0.92),
      );
    });
  }

  test('reference: the same arrivals through one exact limiter', () => {
    const got = simulateFleet({
      seed: 1400,
      unit: 'rpm',
      limit: 600,
      pods: 1,
      minutes: 15,
      intervalMs: 2_000,
      delayMs: 0,
      demandFactor: 2,
    });
    process.stdout.write(
      `fleet-sim exact-reference maxWindow=${got.maxWindow} minWindowSaturated=${got.minWindowSaturated} minClockMinuteSaturated=${got.minMinuteSaturated}\n`,
    );
    expect(got.minWindowSaturated).toBeGreaterThanOrEqual(570);
  });
});
