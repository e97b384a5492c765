import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../controller/clock.js';
import { WorkQueue } from '../controller/work-queue.js';
import { secrets } from '../k8s/kinds.js';
import { createKubeClient } from '../k8s/kube-client.js';
import { createControllerMetrics, type BudgetUse } from './controller-metrics.js';
import { localKubeconfig } from '../k8s/__fixtures__/local-kubeconfig.js';

/** `name{labels} value` lines of one family (labels as exposed, '' without). */
async function samplesOf(
  metrics: { render(): Promise<string> },
  name: string,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await metrics.render()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
    if (m?.[1] === name) out[m[2] ?? ''] = m[3] === '+Inf' ? Infinity : Number(m[3]);
  }
  return out;
}

test('workqueue_* as client-go names them: adds, depth, queue and work time, retries', async () => {
  const metrics = createControllerMetrics();
  const clock = new ManualClock();
  let failedOnce = false;
  const queue = new WorkQueue(
    async (key) => {
      await clock.advance(250); // work time
      if (key === 'a' && !failedOnce) {
        failedOnce = true;
        throw new Error('conflict');
      }
    },
    { clock, metrics: metrics.workQueue, concurrency: 1, baseDelayMs: 100 },
  );
  queue.add('a');
  queue.add('b');
  queue.add('a'); // already waiting: not an add
  expect(await samplesOf(metrics, 'workqueue_depth')).toEqual({ '{name="modelroute"}': 2 });
  await clock.advance(1000); // both wait a second before the queue starts
  queue.start();
  await clock.advance(1000);
  await queue.onIdle();
  const q = '{name="modelroute"}';
  expect(await samplesOf(metrics, 'workqueue_adds_total')).toEqual({ [q]: 3 }); // a, b, a again
  expect(await samplesOf(metrics, 'workqueue_retries_total')).toEqual({ [q]: 1 });
  expect(await samplesOf(metrics, 'workqueue_depth')).toEqual({ [q]: 0 });
  expect(await samplesOf(metrics, 'workqueue_work_duration_seconds_count')).toEqual({ [q]: 3 });
  expect(await samplesOf(metrics, 'workqueue_work_duration_seconds_sum')).toEqual({ [q]: 0.75 });
  const waited = await samplesOf(metrics, 'workqueue_queue_duration_seconds_bucket');
  // a waited 1 s, b 1.25 s (behind a's work), the retried a 0.15 s (its backoff ended during b's work).
  expect(waited['{le="0.1",name="modelroute"}']).toBe(0);
  expect(waited['{le="1",name="modelroute"}']).toBe(2);
  expect(waited['{le="10",name="modelroute"}']).toBe(3);
  await queue.stop();
});

test('leader_election_master_status{name} follows leadership, beside modelroute_controller_leader', async () => {
  const metrics = createControllerMetrics({ leaseName: 'my-lease' });
  expect(await samplesOf(metrics, 'leader_election_master_status')).toEqual({
    '{name="my-lease"}': 0,
  });
  metrics.leader(true);
  expect(await samplesOf(metrics, 'leader_election_master_status')).toEqual({
    '{name="my-lease"}': 1,
  });
  expect(await samplesOf(metrics, 'modelroute_controller_leader')).toEqual({ '': 1 });
  metrics.leader(false);
  expect(await samplesOf(metrics, 'leader_election_master_status')).toEqual({
    '{name="my-lease"}': 0,
  });
});

test('modelroute_budget_used_ratio is read at each scrape; windows that went are gone', async () => {
  const metrics = createControllerMetrics();
  let uses: BudgetUse[] = [
    { scope: 'route', namespace: 'team', name: 'chat', window: 'day', usedRatio: 0.85 },
    { scope: 'tenant', namespace: 'team', name: 'acme', window: 'month', usedRatio: Infinity },
    { scope: 'tenant', namespace: 'team', name: 'odd', window: 'day', usedRatio: NaN },
  ];
  metrics.budgetsFrom(() => uses);
  expect(await samplesOf(metrics, 'modelroute_budget_used_ratio')).toEqual({
    '{scope="route",namespace="team",name="chat",window="day"}': 0.85,
    '{scope="tenant",namespace="team",name="acme",window="month"}': Infinity,
  });
  uses = [];
  expect(await samplesOf(metrics, 'modelroute_budget_used_ratio')).toEqual({});
});

test('rest_client_requests_total counts each API server request by code, method and host', async () => {
  const server = createServer((req, res) => {
    res.statusCode = req.url?.includes('missing') ? 404 : 200;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'Status', metadata: { name: 'x' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const kubeconfig = localKubeconfig(port);
  const metrics = createControllerMetrics();
  const client = createKubeClient({
    kubeconfigPath: kubeconfig,
    onRequest: (method, host, code) => metrics.restClientRequest(method, host, code),
  });
  try {
    expect(await client.exists(secrets, { namespace: 'team', name: 'openai' })).toBe(true);
    expect(await client.exists(secrets, { namespace: 'team', name: 'missing' })).toBe(false);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  await expect(client.exists(secrets, { namespace: 'team', name: 'x' })).rejects.toThrow();
  const host = `127.0.0.1:${port}`;
  expect(await samplesOf(metrics, 'rest_client_requests_total')).toEqual({
    [`{code="200",method="GET",host="${host}"}`]: 1,
    [`{code="404",method="GET",host="${host}"}`]: 1,
    [`{code="<error>",method="GET",host="${host}"}`]: 1,
  });
});
