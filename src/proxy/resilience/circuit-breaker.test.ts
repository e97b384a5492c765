import {
  CircuitBreaker,
  DEFAULT_CIRCUIT_BREAKER,
  type CircuitBreakerOptions,
  type CircuitState,
} from './circuit-breaker.js';

const OPTIONS: CircuitBreakerOptions = { failureThreshold: 3, openMs: 10_000, maxOpenMs: 60_000 };

function setup(options: CircuitBreakerOptions = OPTIONS) {
  let t = 0;
  const changes: CircuitState[] = [];
  const breaker = new CircuitBreaker(
    options,
    () => t,
    (s) => changes.push(s),
  );
  return {
    breaker,
    changes,
    advance: (ms: number) => {
      t += ms;
    },
    fail: (times: number) => {
      for (let i = 0; i < times; i++) breaker.recordFailure();
    },
  };
}

test('defaults', () => {
  expect(DEFAULT_CIRCUIT_BREAKER).toEqual({
    failureThreshold: 5,
    openMs: 10_000,
    maxOpenMs: 120_000,
  });
});

describe.each([1, 3, 5])('threshold %i', (failureThreshold) => {
  test('opens at exactly the threshold of consecutive failures', () => {
    const { breaker, fail } = setup({ ...OPTIONS, failureThreshold });
    fail(failureThreshold - 1);
    expect(breaker.state).toBe('closed');
    expect(breaker.canAttempt()).toBe(true);
    expect(breaker.consecutiveFailures).toBe(failureThreshold - 1);
    fail(1);
    expect(breaker.state).toBe('open');
    expect(breaker.canAttempt()).toBe(false);
  });
});

test('a success in between resets the consecutive count', () => {
  const { breaker, fail } = setup();
  fail(2);
  breaker.recordSuccess();
  expect(breaker.consecutiveFailures).toBe(0);
  fail(2);
  expect(breaker.state).toBe('closed');
});

test('blocks for openMs, then lets exactly one probe through', () => {
  const { breaker, fail, advance } = setup();
  fail(3);
  advance(9_999);
  expect(breaker.state).toBe('open');
  expect(breaker.canAttempt()).toBe(false);
  advance(1);
  expect(breaker.state).toBe('half-open');
  expect(breaker.canAttempt()).toBe(true);
  breaker.onAttempt();
  expect(breaker.canAttempt()).toBe(false); // the probe is out
  expect(breaker.canAttempt()).toBe(false);
});

test('a successful probe closes the circuit and forgets the history', () => {
  const { breaker, fail, advance, changes } = setup();
  fail(3);
  advance(10_000);
  breaker.onAttempt();
  breaker.recordSuccess();
  expect(breaker.state).toBe('closed');
  expect(breaker.canAttempt()).toBe(true);
  expect(breaker.consecutiveFailures).toBe(0);
  expect(changes).toEqual(['open', 'half-open', 'closed']);
  // The next opening starts from openMs again.
  fail(3);
  advance(10_000);
  expect(breaker.state).toBe('half-open');
});

test('each failed probe doubles the open period, up to maxOpenMs', () => {
  const { breaker, fail, advance, changes } = setup();
  fail(3);
  const periods: number[] = [];
  for (let probe = 0; probe < 6; probe++) {
    // Measure how long it stays open.
    let waited = 0;
    while (breaker.state === 'open') {
      advance(1_000);
      waited += 1_000;
    }
    periods.push(waited);
    breaker.onAttempt();
    breaker.recordFailure();
  }
  expect(periods).toEqual([10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
  expect(changes).toEqual([
    'open',
    ...Array<CircuitState>(6)
      .fill('half-open')
      .flatMap((h) => [h, 'open']),
  ]);
});

test('a success after failed probes resets the period to openMs', () => {
  const { breaker, fail, advance } = setup();
  fail(3);
  advance(10_000);
  breaker.onAttempt();
  breaker.recordFailure(); // period 20 s
  advance(20_000);
  breaker.onAttempt();
  breaker.recordSuccess();
  fail(3);
  advance(10_000);
  expect(breaker.state).toBe('half-open');
});

test('late failures while open are counted but do not extend the rest', () => {
  const { breaker, fail, advance, changes } = setup();
  fail(3);
  advance(5_000);
  fail(4);
  expect(breaker.consecutiveFailures).toBe(7);
  advance(5_000);
  expect(breaker.state).toBe('half-open');
  expect(changes).toEqual(['open', 'half-open']);
});

test('onAbandon gives the probe slot back without changing the state', () => {
  const { breaker, fail, advance, changes } = setup();
  fail(3);
  advance(10_000);
  breaker.onAttempt();
  expect(breaker.canAttempt()).toBe(false);
  breaker.onAbandon();
  expect(breaker.state).toBe('half-open');
  expect(breaker.canAttempt()).toBe(true);
  expect(changes).toEqual(['open', 'half-open']);
});

test('onChange is called once per transition, never for a non-change', () => {
  const { breaker, changes } = setup();
  breaker.recordSuccess();
  breaker.onAttempt();
  breaker.recordSuccess();
  expect(changes).toEqual([]);
});

test('works without an onChange callback', () => {
  let t = 0;
  const breaker = new CircuitBreaker(OPTIONS, () => t);
  for (let i = 0; i < 3; i++) breaker.recordFailure();
  t = 10_000;
  expect(breaker.state).toBe('half-open');
});
