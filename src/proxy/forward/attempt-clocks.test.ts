import { jest } from '@jest/globals';
import { AttemptTimers, ClientGone } from './attempt-clocks.js';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('the idle timer blames the backend when the proxy waits on it', () => {
  const timers = new AttemptTimers(100, 10_000, new ClientGone());
  jest.advanceTimersByTime(101);
  expect(timers.signal.aborted).toBe(true);
  expect(timers.reason).toMatch(/no data within 100 ms/);
  expect(timers.clientFault).toBe(false);
  timers.clear();
});

test('while the proxy waits on a slow client the idle timer does not fire, and restarts after', () => {
  const timers = new AttemptTimers(100, 10_000, new ClientGone());
  timers.holdForClient();
  jest.advanceTimersByTime(1_000);
  expect(timers.signal.aborted).toBe(false);
  timers.resumeFromClient();
  jest.advanceTimersByTime(99);
  expect(timers.signal.aborted).toBe(false);
  jest.advanceTimersByTime(2);
  expect(timers.signal.aborted).toBe(true);
  timers.clear();
});

test('a total timeout that fires while waiting on the client is the client’s fault', () => {
  const timers = new AttemptTimers(100, 500, new ClientGone());
  timers.holdForClient();
  jest.advanceTimersByTime(501);
  expect(timers.signal.aborted).toBe(true);
  expect(timers.clientFault).toBe(true);
  timers.clear();
});

test('delays no timer can hold are clamped rather than firing at once', () => {
  const timers = new AttemptTimers(3_600_000_000, 3_600_000_000, new ClientGone());
  jest.advanceTimersByTime(1_000);
  expect(timers.signal.aborted).toBe(false);
  timers.clear();
});

test('a client that leaves aborts the attempt', () => {
  const gone = new ClientGone();
  const timers = new AttemptTimers(100, 500, gone);
  gone.abort();
  expect(timers.signal.aborted).toBe(true);
  expect(timers.reason).toBeUndefined();
  timers.clear();
});
