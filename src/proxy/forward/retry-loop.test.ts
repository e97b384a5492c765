import { compileRoutingTable } from '../../routing/compile.js';
import { backend, route } from '../../routing/__fixtures__/objects.js';
import { seededRandom } from '../../routing/random.js';
import type { Attempt } from '../../routing/select.js';
import type { ModelRouteInput } from '../../api/v1alpha1/index.js';
import type { Failure } from './failure.js';
import { runAttempts, type RetryLoopDeps } from './retry-loop.js';

function setup(spec: Partial<ModelRouteInput['spec']> = {}) {
  const table = compileRoutingTable(
    [
      route('chat', {
        rules: [{ name: 'r', backendRefs: [{ name: 'a' }, { name: 'b' }] }],
        ...spec,
      }),
    ],
    [backend('a'), backend('b')],
  );
  const route0 = table.routes[0]!;
  const attempts: Attempt[] = table.backends.map((b) => ({
    backend: b,
    routeId: route0.id,
    ruleName: 'r',
    source: 'rule',
    priority: 0,
  }));
  return { route: route0, attempts };
}

/** A loop whose attempts answer from a script, on a fake clock. */
function deps(
  script: Record<string, ('done' | Failure['kind'])[]>,
  overrides: Partial<RetryLoopDeps> = {},
) {
  let clock = 0;
  const calls: string[] = [];
  const slept: number[] = [];
  const d: RetryLoopDeps = {
    now: () => clock,
    rng: seededRandom(1),
    available: () => true,
    sleep: (ms) => {
      slept.push(ms);
      clock += ms;
      return Promise.resolve();
    },
    clientGone: () => false,
    onRetry: () => {},
    attempt: (attempt) => {
      const id = attempt.backend.name;
      calls.push(id);
      const next = script[id]?.shift() ?? 'done';
      return Promise.resolve(
        next === 'done' ? 'done' : { kind: next, backendId: attempt.backend.id, message: next },
      );
    },
    ...overrides,
  };
  return { d, calls, slept };
}

test('a refusing backend is failed over at once and never tried again', async () => {
  const { route: r, attempts } = setup({ retries: { attempts: 4 } });
  const { d, calls } = deps({ a: ['backend-rejected'], b: ['server-error'] });
  const result = await runAttempts(r, attempts, d);
  expect(calls).toEqual(['a', 'b', 'b']);
  expect(result).toEqual({ done: true });
});

test('server errors go round the backends with backoff, within the retry budget', async () => {
  const { route: r, attempts } = setup({ retries: { attempts: 2, backoff: '100ms' } });
  const { d, calls, slept } = deps({
    a: ['server-error', 'server-error'],
    b: ['server-error', 'server-error'],
  });
  const result = await runAttempts(r, attempts, d);
  expect(calls).toEqual(['a', 'b', 'a']);
  expect(slept).toHaveLength(1);
  expect(result.done).toBe(false);
});

test('a client error stops the loop: another backend would refuse it too', async () => {
  const { route: r, attempts } = setup();
  const { d, calls } = deps({ a: ['client-error'] });
  const result = await runAttempts(r, attempts, d);
  expect(calls).toEqual(['a']);
  expect(result.done).toBe(false);
});

test('a client that left stops the loop', async () => {
  const { route: r, attempts } = setup();
  let gone = false;
  const { d, calls } = deps(
    { a: ['client-gone'] },
    {
      clientGone: () => gone,
      attempt: () => {
        calls.push('a');
        gone = true;
        return Promise.resolve({ kind: 'client-gone', backendId: 'default/a', message: 'x' });
      },
    },
  );
  await runAttempts(r, attempts, d);
  expect(calls).toEqual(['a']);
});

test('a retry that needs a backend whose circuit opened is recorded as not usable', async () => {
  const { route: r, attempts } = setup();
  const { d, calls } = deps({ a: ['server-error'] }, { available: (id) => id !== 'default/b' });
  const result = await runAttempts(r, attempts, d);
  expect(calls[0]).toBe('a');
  expect(result.done || result.failures.some((f) => f.kind === 'not-usable')).toBe(true);
});

test('the route deadline ends the loop before sleeping past it', async () => {
  const { route: r, attempts } = setup({
    retries: { attempts: 5, backoff: '1s', maxBackoff: '1s' },
    timeouts: { total: '1500ms' },
  });
  const { d, slept } = deps({
    a: Array<Failure['kind']>(5).fill('server-error'),
    b: Array<Failure['kind']>(5).fill('server-error'),
  });
  const result = await runAttempts(r, attempts, d);
  expect(result.done).toBe(false);
  expect(slept.reduce((a, b) => a + b, 0)).toBeLessThan(1500);
});
