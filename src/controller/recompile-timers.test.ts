import { ManualClock } from './clock.js';
import { RecompileTimers } from './recompile-timers.js';

function setup() {
  const clock = new ManualClock();
  const woke: string[] = [];
  const timers = new RecompileTimers((ns) => woke.push(ns), clock);
  timers.start();
  return { clock, woke, timers };
}

test('a namespace is reconciled just after its earliest key expiry, once', async () => {
  const { clock, woke, timers } = setup();
  timers.schedule('team', clock.now() + 10_000);
  timers.schedule('team', clock.now() + 10_000); // the next reconcile says the same: no second timer
  await clock.advance(9_999);
  expect(woke).toEqual([]);
  await clock.advance(1_000);
  expect(woke).toEqual(['team']);
  expect(clock.pendingTimers).toBe(0);
});

test('a new earliest expiry replaces the old one; undefined cancels; stop clears all', async () => {
  const { clock, woke, timers } = setup();
  timers.schedule('a', clock.now() + 60_000);
  timers.schedule('a', clock.now() + 5_000);
  timers.schedule('b', clock.now() + 5_000);
  timers.schedule('b', undefined);
  await clock.advance(6_000);
  expect(woke).toEqual(['a']);
  expect(clock.pendingTimers).toBe(0);
  timers.schedule('c', clock.now() + 1_000);
  timers.stop();
  expect(clock.pendingTimers).toBe(0);
  timers.schedule('c', clock.now() + 1_000); // not leading: nothing armed
  await clock.advance(5_000);
  expect(woke).toEqual(['a']);
});
