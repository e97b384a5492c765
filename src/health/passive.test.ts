import { OutcomeWindows, outcomeTotals, PassiveHealth, passiveObservation } from './passive.js';

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

describe('failure causes reported by the proxies', () => {
  test('calls refused for their credential name CredentialRefused, not the client', () => {
    const totals = outcomeTotals(1, { 'auth-refused': 8, 'client-error': 50, timeout: 1 });
    expect(totals).toEqual({ requests: 10, failures: 9, authRefused: 8, notFound: 0 });
    expect(passiveObservation(totals)).toMatchObject({
      ok: false,
      reason: 'CredentialRefused',
      message: expect.stringContaining('8 refused the credential (HTTP 401/403)'),
    });
  });

  test('404s for the API path name EndpointPathNotFound; a mix names CallsFailing', () => {
    expect(passiveObservation(outcomeTotals(0, { 'endpoint-not-found': 6 }))).toMatchObject({
      ok: false,
      reason: 'EndpointPathNotFound',
    });
    expect(
      passiveObservation(outcomeTotals(2, { 'server-error': 6, 'auth-refused': 2 })),
    ).toMatchObject({ ok: false, reason: 'CallsFailing' });
  });

  test('causes survive per-pod deltas and add up across windows', () => {
    const w = new OutcomeWindows();
    w.next('p a', outcomeTotals(3, { 'auth-refused': 1 }));
    expect(w.next('p a', outcomeTotals(4, { 'auth-refused': 5 }))).toEqual({
      requests: 5,
      failures: 4,
      authRefused: 4,
      notFound: 0,
    });
    const health = new PassiveHealth(() => 0);
    expect(health.record('a', outcomeTotals(0, { 'auth-refused': 3 }))).toBeUndefined();
    expect(health.record('a', outcomeTotals(0, { 'auth-refused': 3 }))).toMatchObject({
      reason: 'CredentialRefused',
      message: expect.stringContaining('6 of 6'),
    });
  });
});

test('a window counts calls that finished: successes and failures, never calls still in flight', () => {
  expect(outcomeTotals(7, { timeout: 2, 'client-error': 4 })).toEqual({
    requests: 9,
    failures: 2,
    authRefused: 0,
    notFound: 0,
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
      reason: 'CallsFailing',
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
