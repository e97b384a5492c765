import type { ModelRoute, ModelRouteStatus } from '../../api/v1alpha1/index.js';
import { modelRoutes } from '../../k8s/kinds.js';
import { createControllerMetrics } from '../../telemetry/controller-metrics.js';
import { FakeKubeClient } from '../__fixtures__/fake-kube-client.js';
import { chatRoute } from '../__fixtures__/status-objects.js';
import { StatusWriter } from './status-writer.js';

const INTERVAL = 300_000;
const base: ModelRouteStatus = { observedGeneration: 1, programmed: '1/1' };
const strong = (realized: number, threshold = 0.42): ModelRouteStatus['strongShare'] => ({
  target: 0.2,
  realized,
  threshold,
  decisions: Math.round(1000 * (1 + realized)),
  window: '1h',
});

function setup() {
  let now = Date.UTC(2026, 0, 1);
  const client = new FakeKubeClient();
  client.put(modelRoutes, chatRoute());
  const writer = new StatusWriter({
    client,
    metrics: createControllerMetrics(),
    now: () => now,
    usageIntervalMs: INTERVAL,
  });
  const stored = (): ModelRoute =>
    client.peek(modelRoutes, { namespace: 'team', name: 'chat' }) as ModelRoute;
  const write = (status: ModelRouteStatus) => writer.writeRouteStatus(stored(), status);
  const writes = () => client.callsOf('patchStatus').length;
  return { write, writes, stored, advance: (ms: number) => (now += ms) };
}

test('the realised strong share alone is rewritten at most once per usage interval', async () => {
  const s = setup();
  await s.write({ ...base, strongShare: strong(0.2) });
  expect(s.writes()).toBe(1);
  // Every stats read moves the realised share a little: no write for that alone.
  for (const realized of [0.21, 0.19, 0.205]) {
    s.advance(5_000);
    await s.write({ ...base, strongShare: strong(realized) });
  }
  expect(s.writes()).toBe(1);
  s.advance(INTERVAL);
  await s.write({ ...base, strongShare: strong(0.22) });
  expect(s.writes()).toBe(2);
  expect(s.stored().status?.strongShare?.realized).toBe(0.22);
});

test('a new threshold, or the strong share appearing or going, is written at once', async () => {
  const s = setup();
  await s.write(base);
  await s.write({ ...base, strongShare: strong(0.2) });
  expect(s.writes()).toBe(2);
  s.advance(1_000);
  await s.write({ ...base, strongShare: strong(0.2, 0.51) });
  expect(s.writes()).toBe(3);
  expect(s.stored().status?.strongShare?.threshold).toBe(0.51);
  s.advance(1_000);
  await s.write(base);
  expect(s.writes()).toBe(4);
  expect(s.stored().status?.strongShare).toBeUndefined();
});
