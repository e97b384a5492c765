// What fleet limits cost a request inside the proxy, in microseconds: the
// BackendLiveState calls one request makes (routing's available() for each
// candidate, begin and finish of the attempt) with the proxy bench's backends
// limited (limits and a pushed assignment, as `bench quotas` runs its
// limits-on proxy) and unlimited, interleaved in rounds in one process. The
// end-to-end overhead ratio of `bench quotas` cannot resolve a microsecond on
// a shared machine (two identical proxies differ by a few percent there);
// this measures the code itself. Prints JSON; never a pass/fail test.
// Run: npm run bench:limits-path (--quick: CI sizes)
import { soleProxyAssignment, withLimits } from '../src/bench/quotas-overhead.js';
import { benchTable } from '../src/bench/route-table.js';
import { BackendLiveState } from '../src/proxy/backend-live-state.js';
import { QuotaState } from '../src/quota/quota-state.js';
import { benchFlags } from './flags.js';

const { quick } = benchFlags('bench/limits-path.ts');
const REQUESTS_PER_ROUND = quick ? 2_000 : 200_000;
const ROUNDS = quick ? 3 : 11;
/** A busy proxy: 4,000 requests a second, so every second of the 60 s window holds counts. */
const CLOCK_STEP_MS = 0.25;

let nowMs = Date.UTC(2026, 11, 3);
const clock = () => nowMs;

function liveState(on: boolean): { live: BackendLiveState; ids: string[] } {
  const table = withLimits(benchTable('http://127.0.0.1:9/v1', 0.5), on);
  const quotas = new QuotaState({ mode: 'fleet', now: clock });
  if (on && !quotas.apply(soleProxyAssignment(table, clock())).ok)
    throw new Error('the quota assignment was refused');
  const live = new BackendLiveState({ now: clock, quotas });
  live.configure(table.backends);
  return { live, ids: table.backends.map((b) => b.id) };
}

/** µs per request: every backend asked as a candidate, then one attempt on the first. */
function round(path: ReturnType<typeof liveState>, priority: string | undefined): number {
  const { live, ids } = path;
  const first = ids[0] as string;
  let available = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < REQUESTS_PER_ROUND; i++) {
    nowMs += CLOCK_STEP_MS;
    for (const id of ids) if (live.available(id, priority)) available++;
    live.begin(first, 40).finish('success', { latencyMs: 1, tokens: 56 });
  }
  const us = Number(process.hrtime.bigint() - start) / 1000 / REQUESTS_PER_ROUND;
  if (available !== REQUESTS_PER_ROUND * ids.length) throw new Error('a limit bound');
  return us;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const to3 = (x: number) => Math.round(x * 1000) / 1000;

const results: Record<string, { limits_on_us: number; limits_off_us: number; extra_us: number }> =
  {};
for (const priority of [undefined, 'low'] as const) {
  const on = liveState(true);
  const off = liveState(false);
  const samples = { on: [] as number[], off: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first, so neither always runs on a warmer cache.
    const order = r % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
    for (const key of order) samples[key].push(round(key === 'on' ? on : off, priority));
  }
  const onUs = median(samples.on.slice(1)); // the first round warms up
  const offUs = median(samples.off.slice(1));
  results[priority === undefined ? 'no_priority' : `${priority}_priority`] = {
    limits_on_us: to3(onUs),
    limits_off_us: to3(offUs),
    extra_us: to3(onUs - offUs),
  };
}

process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'limits-path',
      quick,
      requests_per_round: REQUESTS_PER_ROUND,
      rounds: ROUNDS,
      backends_per_request: liveState(false).ids.length,
      results,
    },
    null,
    2,
  )}\n`,
);
