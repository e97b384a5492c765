import { OutcomeWindows, PassiveHealth, passiveObservation } from './passive.js';

describe('passiveObservation', () => {
  test.each([
    { requests: 0, failures: 0, expected: undefined },
    { requests: 4, failures: 4, expected: undefined },
    { requests: 5, failures: 0, expected: true },
    { requests: 10, failures: 4, expected: true },
    { requests: 10, failures: 5, expected: false },
    { requests: 10, failures: 10, expected: false },
  ])('$failures of $requests failed → ok=$expected', ({ requests, failures, expected }) => {
    expect(passiveObservation({ requests, failures })?.ok).toBe(expected);
  });

  test('the message says what the proxies saw', () => {
    expect(passiveObservation({ requests: 8, failures: 6 })?.message).toBe(
      'proxies saw 6 of 8 calls fail (75%)',
    );
  });

  test('a custom policy', () => {
    expect(
      passiveObservation({ requests: 2, failures: 1 }, { minRequests: 1, failureRatio: 0.25 })?.ok,
    ).toBe(false);
  });
});

describe('OutcomeWindows', () => {
  test('cumulative counters become per-window deltas', () => {
    const w = new OutcomeWindows();
    expect(w.next('a', { requests: 10, failures: 1 })).toEqual({ requests: 10, failures: 1 });
    expect(w.next('a', { requests: 25, failures: 9 })).toEqual({ requests: 15, failures: 8 });
    expect(w.next('a', { requests: 25, failures: 9 })).toEqual({ requests: 0, failures: 0 });
  });

  test('a counter going down (proxy restarted) counts the new totals', () => {
    const w = new OutcomeWindows();
    w.next('a', { requests: 100, failures: 3 });
    expect(w.next('a', { requests: 7, failures: 7 })).toEqual({ requests: 7, failures: 7 });
  });

  test('retain forgets removed backends', () => {
    const w = new OutcomeWindows();
    w.next('a', { requests: 10, failures: 0 });
    w.retain([]);
    expect(w.next('a', { requests: 10, failures: 0 })).toEqual({ requests: 10, failures: 0 });
  });
});

describe('PassiveHealth', () => {
  test('small windows add up to one observation, then start over', () => {
    let t = 0;
    const health = new PassiveHealth(() => t);
    expect(health.record('a', { requests: 3, failures: 3 })).toBeUndefined();
    t += 1000;
    expect(health.record('a', { requests: 2, failures: 2 })).toEqual({
      ok: false,
      message: 'proxies saw 5 of 5 calls fail (100%)',
    });
    expect(health.record('a', { requests: 4, failures: 0 })).toBeUndefined();
  });

  test('calls older than maxAge no longer count', () => {
    let t = 0;
    const health = new PassiveHealth(() => t);
    health.record('a', { requests: 4, failures: 4 });
    t += 61_000;
    expect(health.record('a', { requests: 4, failures: 0 })).toBeUndefined();
    expect(health.record('a', { requests: 1, failures: 0 })?.ok).toBe(true);
  });

  test('backends are judged apart', () => {
    const health = new PassiveHealth(() => 0);
    health.record('a', { requests: 4, failures: 4 });
    expect(health.record('b', { requests: 1, failures: 1 })).toBeUndefined();
  });
});
