// Property: whatever durations the schema accepts, every delay the compiled
// table hands a timer fits in one (Node's timers overflow past 2^31-1 ms and
// fire at once), and a pushed table holding a longer one is refused.
import {
  MAX_TIMER_MS,
  modelBackend,
  modelRoute,
  timerMs,
  type ModelBackendInput,
  type ModelRouteInput,
} from '../api/v1alpha1/index.js';
import { compileRoutingTable } from './compile.js';
import { seededRandom } from './random.js';
import { parseRoutingTable } from './table.js';

const UNITS = ['ms', 's', 'm', 'h'] as const;

/** A random Go-style duration: 1-3 segments, integer or decimal amounts up to 10^7. */
function randomDuration(rng: () => number): string {
  let out = '';
  const segments = 1 + Math.floor(rng() * 3);
  for (let i = 0; i < segments; i++) {
    const magnitude = 10 ** Math.floor(rng() * 8);
    const amount = Math.floor(rng() * magnitude);
    const decimal = rng() < 0.2 ? `.${Math.floor(rng() * 100)}` : '';
    out += `${amount}${decimal}${UNITS[Math.floor(rng() * UNITS.length)]}`;
  }
  return out;
}

function backendWith(spec: Partial<ModelBackendInput['spec']>) {
  return modelBackend.safeParse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name: 'b', namespace: 'default' },
    spec: { provider: 'openai-compatible', endpoint: 'http://b:8000/v1', model: 'b', ...spec },
  });
}

function routeWith(spec: Partial<ModelRouteInput['spec']>) {
  return modelRoute.safeParse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'chat', namespace: 'default' },
    spec: { model: 'chat', rules: [{ name: 'r', backendRefs: [{ name: 'b' }] }], ...spec },
  });
}

/** Every number under a key ending in "Ms", anywhere in the table. */
function delays(value: unknown, path = ''): [string, number][] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, v]) =>
    typeof v === 'number' && key.endsWith('Ms')
      ? [[`${path}.${key}`, v] as [string, number]]
      : delays(v, `${path}.${key}`),
  );
}

test('for random durations the schema accepts, every compiled delay fits in a timer', () => {
  const rng = seededRandom(11);
  let accepted = 0;
  let refused = 0;
  // One random duration per field per round, so accepted and refused values both turn up.
  const fields: ((v: string) => [ReturnType<typeof backendWith>, ReturnType<typeof routeWith>])[] =
    [
      (v) => [backendWith({ healthCheck: { interval: v } }), routeWith({})],
      (v) => [backendWith({ healthCheck: { timeout: v } }), routeWith({})],
      (v) => [backendWith({ timeouts: { connect: v } }), routeWith({})],
      (v) => [backendWith({ timeouts: { firstToken: v } }), routeWith({})],
      (v) => [backendWith({ timeouts: { total: v } }), routeWith({})],
      (v) => [backendWith({}), routeWith({ retries: { backoff: v } })],
      (v) => [backendWith({}), routeWith({ retries: { maxBackoff: v } })],
      (v) => [backendWith({}), routeWith({ timeouts: { connect: v } })],
      (v) => [backendWith({}), routeWith({ timeouts: { firstToken: v } })],
      (v) => [backendWith({}), routeWith({ timeouts: { total: v } })],
    ];
  for (let i = 0; i < 300; i++) {
    for (const field of fields) {
      const [b, r] = field(randomDuration(rng));
      if (!b.success || !r.success) {
        refused++;
        // Refusals say which bounds hold.
        const issue = (b.error ?? r.error)?.issues.find((x) => /between/.test(x.message));
        if (issue) expect(issue.message).toMatch(/^must be between \S+ and \S+, not \S+$/);
        continue;
      }
      accepted++;
      const table = compileRoutingTable([r.data], [b.data]);
      for (const [path, ms] of delays(table)) {
        expect({ path, ms, ok: ms >= 0 && ms <= 24 * 3_600_000 }).toEqual({ path, ms, ok: true });
      }
      expect(parseRoutingTable(JSON.parse(JSON.stringify(table))).ok).toBe(true);
    }
  }
  // Both sides of the bounds were exercised.
  expect(accepted).toBeGreaterThan(20);
  expect(refused).toBeGreaterThan(20);
});

test.each([
  ['healthCheck.interval 0s', backendWith({ healthCheck: { interval: '0s' } })],
  ['healthCheck.timeout 2000h', backendWith({ healthCheck: { timeout: '2000h' } })],
  ['timeouts.total 1000h', backendWith({ timeouts: { total: '1000h' } })],
  ['route timeouts.total 1000h', routeWith({ timeouts: { total: '1000h' } })],
  ['retries.maxBackoff 1000h', routeWith({ retries: { maxBackoff: '1000h' } })],
  // Compared unrounded, as the API server's CEL duration() compares it.
  ['timeouts.total a fraction over 24h', backendWith({ timeouts: { total: '86400000.4ms' } })],
  ['timeouts.connect a fraction under 1ms', backendWith({ timeouts: { connect: '0.6ms' } })],
])('the schema refuses %s with the bounds in the message', (_name, parsed) => {
  expect(parsed.success).toBe(false);
  expect(parsed.error?.issues.map((i) => i.message).join('\n')).toMatch(
    /must be between \S+ and \S+, not \S+/,
  );
});

test('a pushed table with a delay no timer can hold is refused, naming the field', () => {
  const b = backendWith({});
  const r = routeWith({});
  if (!b.success || !r.success) throw new Error('fixtures must parse');
  const table = JSON.parse(JSON.stringify(compileRoutingTable([r.data], [b.data]))) as {
    routes: { timeouts: { totalMs?: number } }[];
  };
  (table.routes[0] as { timeouts: { totalMs?: number } }).timeouts.totalMs = 3_600_000_000;
  const parsed = parseRoutingTable(table);
  expect(parsed.ok).toBe(false);
  expect(JSON.stringify(parsed)).toMatch(/totalMs/);
});

test('timerMs clamps any number into what setTimeout can hold', () => {
  const rng = seededRandom(5);
  for (let i = 0; i < 1_000; i++) {
    const ms = (rng() - 0.2) * 10 ** Math.floor(rng() * 15);
    const out = timerMs(ms, 1);
    expect(out >= 1 && out <= MAX_TIMER_MS && Number.isInteger(out)).toBe(true);
  }
  expect(timerMs(Infinity)).toBe(MAX_TIMER_MS);
  expect(timerMs(Number.NaN)).toBe(MAX_TIMER_MS);
});
