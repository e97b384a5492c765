// The production image, built with podman from the Dockerfile (on the local
// Node base: no registry serves the official one here) and run as a
// locked-down pod runs it: read-only root filesystem, uid 1000, no
// capabilities. Each role answers: `dev --simulate` serves a chat completion
// to the openai client, `proxy` is programmed through its admin port and
// routes a chat completion to a backend, `controller` leads and syncs against
// a real API server. Benchmarks are not in the image.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { modelBackend } from '../../src/api/v1alpha1/index.js';
import { compileRoutingTable } from '../../src/routing/compile.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { route } from '../support/data-plane.js';
import { eventually } from '../support/eventually.js';
import { ensureBinaries } from '../testenv/build.js';
import { freePort, startControlPlane, stopControlPlane } from '../testenv/controlplane.js';
import { REPO_ROOT, binaryPaths } from '../testenv/paths.js';
import { ensureImage, imageSize } from './build.js';
import {
  HOST_LOOPBACK_FROM_CONTAINER,
  PRIVATE_NETWORK,
  runOnce,
  startContainer,
  type TestContainer,
} from './containers.js';

const ADMIN_TOKEN = 'image-test-admin-token-0123456789';
// A cold build (base rootfs, npm ci, tsc, layers) took 6.5 minutes at load 9
// on 2 cores; a warm one is a `podman image exists`.
const BUILD_TIMEOUT_MS = 20 * 60_000;
// Containers start node and load the app from overlay layers on a busy machine.
const ANSWER_WITHIN_MS = 60_000;
/** A hang guard: starting and answering is seconds when the machine is idle. */
const CONTAINER_TEST_MS = ANSWER_WITHIN_MS + 60_000;

let image: string;
const containers: TestContainer[] = [];
let work: string;

beforeAll(() => {
  image = ensureImage().ref;
  work = mkdtempSync(join(tmpdir(), 'modelroute-image-test-'));
  process.stderr.write(`image: ${image} is ${(imageSize(image) / 1e6).toFixed(0)} MB\n`);
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  for (const container of containers) container.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

function start(...args: Parameters<typeof startContainer>): TestContainer {
  const container = startContainer(...args);
  containers.push(container);
  return container;
}

async function status(url: string): Promise<number> {
  return (await fetch(url, { signal: AbortSignal.timeout(5_000) })).status;
}

async function answers(container: TestContainer, url: () => string, want = 200): Promise<void> {
  await eventually(
    async () => {
      const got = await status(url()).catch((err: unknown) => (err as Error).message);
      if (got !== want) {
        throw new Error(
          `${url()} answered ${String(got)}, not ${String(want)}; logs:\n${container.logs()}`,
        );
      }
    },
    ANSWER_WITHIN_MS,
    500,
  );
}

test(
  'dev --simulate in the image serves a chat completion to the openai client, read-only as uid 1000',
  async () => {
    const dev = start(image, { network: PRIVATE_NETWORK, publish: [8080, 9901] }, [
      'dev',
      '--simulate',
      '--host',
      '0.0.0.0',
      '--admin-host',
      '0.0.0.0',
      // dev picks a free admin port unless told one.
      '--admin-port',
      '9901',
    ]);
    await answers(dev, () => `${dev.url(9901)}/healthz`);

    const client = new OpenAI({ baseURL: `${dev.url(8080)}/v1`, apiKey: 'x', maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'Say hello.' }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toEqual(expect.any(String));
    expect(response.headers.get('x-modelroute-route')).toBe('default/chat');

    // What the container is, seen from inside it.
    expect(dev.exec(['id', '-u']).stdout.trim()).toBe('1000');
    const write = dev.exec(['touch', '/app/dist/written']);
    expect(write.status).not.toBe(0);
    expect(write.stderr).toMatch(/Read-only file system/);
  },
  CONTAINER_TEST_MS,
);

test(
  'proxy in the image is programmed through its admin port and routes to a backend',
  async () => {
    const backend: SimulatedBackend = await startSimulatedBackend({ models: ['small-upstream'] });
    try {
      const proxy = start(
        image,
        {
          network: PRIVATE_NETWORK,
          publish: [8080, 9901],
          env: { MODELROUTE_ADMIN_TOKEN: ADMIN_TOKEN },
        },
        ['proxy', '--host', '0.0.0.0'],
      );
      await answers(proxy, () => `${proxy.url(9901)}/healthz`);
      // Not ready until the controller's first table arrives.
      expect(await status(`${proxy.url(9901)}/readyz`)).toBe(503);

      const port = new URL(backend.url).port;
      const small = modelBackend.parse({
        apiVersion: 'modelroute.io/v1alpha1',
        kind: 'ModelBackend',
        metadata: { name: 'small', namespace: 'default' },
        spec: {
          provider: 'openai-compatible',
          model: 'small-upstream',
          endpoint: `http://${HOST_LOOPBACK_FROM_CONTAINER}:${port}/v1`,
        },
      });
      const table = compileRoutingTable(
        [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'small' }] }] })],
        [small],
      );
      const put = await fetch(`${proxy.url(9901)}/admin/v1/table`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(table),
      });
      expect(put.status).toBe(200);
      expect(await status(`${proxy.url(9901)}/readyz`)).toBe(200);

      const client = new OpenAI({ baseURL: `${proxy.url(8080)}/v1`, apiKey: 'x', maxRetries: 0 });
      const { response } = await client.chat.completions
        .create({ model: 'chat', messages: [{ role: 'user', content: 'Say hello.' }] })
        .withResponse();
      expect(response.headers.get('x-modelroute-backend')).toBe('default/small');
      expect(backend.requests.length).toBeGreaterThan(0);
    } finally {
      await backend.close();
    }
  },
  CONTAINER_TEST_MS,
);

test(
  'controller in the image leads and syncs against a real API server',
  async () => {
    ensureBinaries();
    const dir = join(work, 'controlplane');
    try {
      const plane = await startControlPlane({ dir, stopWithParent: true });
      const kubeconfig = plane.kubeconfig;
      const kubectl = (args: string[]): void => {
        const result = spawnSync(binaryPaths().kubectl, ['--kubeconfig', kubeconfig, ...args], {
          encoding: 'utf8',
        });
        if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
      };
      kubectl(['apply', '--server-side', '-f', join(REPO_ROOT, 'crds')]);
      kubectl(['create', 'namespace', 'modelroute-system']);
      // The container's uid 1000 reads these; the originals are root's, mode 0600.
      const mounted = join(work, 'controller');
      mkdirSync(mounted);
      writeFileSync(join(mounted, 'kubeconfig'), readFileSync(plane.kubeconfig), { mode: 0o644 });
      writeFileSync(join(mounted, 'admin-token'), ADMIN_TOKEN, { mode: 0o644 });

      // The host's network: the test API server listens on the host's loopback
      // (with a certificate for 127.0.0.1), as a cluster's API server would be
      // reachable from a controller pod.
      const healthPort = await freePort();
      const controller = start(image, { network: 'host', mounts: [`${mounted}:/config:ro`] }, [
        'controller',
        '--kubeconfig',
        '/config/kubeconfig',
        '--admin-token-file',
        '/config/admin-token',
        '--health-host',
        '127.0.0.1',
        '--health-port',
        String(healthPort),
      ]);
      const health = `http://127.0.0.1:${String(healthPort)}`;
      await answers(controller, () => `${health}/healthz`);
      await answers(controller, () => `${health}/readyz`);
      const ready = (await (await fetch(`${health}/readyz`)).json()) as { leader: boolean };
      expect(ready.leader).toBe(true);
    } finally {
      await stopControlPlane(dir);
    }
  },
  CONTAINER_TEST_MS + 90_000,
);

test(
  'benchmarks are not in the production image, and `modelroute bench` says so',
  () => {
    const result = runOnce(image, ['bench', 'proxy', '--quick']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/benchmarks are not in the production image/);
    const listing = runOnce(image, ['--help']);
    expect(listing.status).toBe(0);
    expect(runOnce(image, ['version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  },
  CONTAINER_TEST_MS,
);
