// Property: for random durations around every bound, the API server (CEL
// duration() in the CRD) and the offline schema (zod) accept exactly the same
// values. One server-side dry run holds every case.
import { modelBackend, modelRoute } from '../../src/api/v1alpha1/index.js';
import { seededRandom } from '../../src/routing/random.js';
import { createNamespace, installCRDs, kubectl } from '../support/cluster.js';

const UNITS = ['ms', 's', 'm', 'h'] as const;

/** Durations near the bounds in use (0, 1ms, 10ms, 1s, 1m, 5m, 10m, 1h, 24h) and random ones. */
function randomDuration(rng: () => number): string {
  const anchorsMs = [0, 1, 10, 1_000, 60_000, 300_000, 600_000, 3_600_000, 86_400_000];
  if (rng() < 0.6) {
    const anchor = anchorsMs[Math.floor(rng() * anchorsMs.length)]!;
    const offset = [-1, -0.5, 0, 0.5, 1][Math.floor(rng() * 5)]!;
    const ms = Math.max(0, anchor + offset);
    return `${ms}ms`;
  }
  const amount = Math.floor(rng() * 10 ** Math.floor(rng() * 6));
  const decimal = rng() < 0.3 ? `.${Math.floor(rng() * 1000)}` : '';
  return `${amount}${decimal}${UNITS[Math.floor(rng() * UNITS.length)]}`;
}

const FIELDS: {
  kind: 'ModelBackend' | 'ModelRoute';
  set: (d: string) => Record<string, unknown>;
}[] = [
  { kind: 'ModelBackend', set: (d) => ({ healthCheck: { interval: d } }) },
  { kind: 'ModelBackend', set: (d) => ({ healthCheck: { timeout: d } }) },
  { kind: 'ModelBackend', set: (d) => ({ timeouts: { connect: d, firstToken: d, total: d } }) },
  { kind: 'ModelRoute', set: (d) => ({ retries: { backoff: d, maxBackoff: d } }) },
  { kind: 'ModelRoute', set: (d) => ({ timeouts: { total: d } }) },
];

function object(kind: string, name: string, extra: Record<string, unknown>) {
  const spec =
    kind === 'ModelBackend'
      ? { provider: 'openai', endpoint: 'https://api.openai.com/v1', model: 'm', ...extra }
      : { model: name, rules: [{ name: 'r', backendRefs: [{ name: 'b' }] }], ...extra };
  return { apiVersion: 'modelroute.io/v1alpha1', kind, metadata: { name }, spec };
}

test('the API server and the offline schema agree on every random duration', () => {
  installCRDs();
  const namespace = createNamespace('durations');
  const rng = seededRandom(77);
  const cases = Array.from({ length: 120 }, (_, i) => {
    const field = FIELDS[i % FIELDS.length]!;
    const duration = randomDuration(rng);
    const obj = object(field.kind, `d-${i}`, field.set(duration));
    const schema = field.kind === 'ModelBackend' ? modelBackend : modelRoute;
    return {
      name: `d-${i}`,
      kind: field.kind,
      duration,
      obj,
      offline: schema.safeParse(obj).success,
    };
  });
  const list = { apiVersion: 'v1', kind: 'List', items: cases.map((c) => c.obj) };
  const applied = kubectl(
    ['apply', '--dry-run=server', '-n', namespace, '-o', 'name', '-f', '-'],
    JSON.stringify(list),
  );
  const accepted = new Set(
    applied.stdout
      .split('\n')
      .map((line) => /\/(d-\d+)/.exec(line)?.[1])
      .filter((n): n is string => n !== undefined),
  );
  const disagreements = cases
    .filter((c) => accepted.has(c.name) !== c.offline)
    .map((c) => ({
      kind: c.kind,
      duration: c.duration,
      server: accepted.has(c.name),
      offline: c.offline,
    }));
  expect(disagreements).toEqual([]);
  // Both sides of the bounds were exercised.
  expect(cases.filter((c) => c.offline).length).toBeGreaterThan(10);
  expect(cases.filter((c) => !c.offline).length).toBeGreaterThan(10);
}, 60_000);
