// What a running `modelroute controller` loads: with a token or client
// certificate kubeconfig it leads against the real API server without
// @kubernetes/client-node (importing it cost ~80 MB RSS of the 150 MB the
// controller may use at 1,000 routes); a kubeconfig with an exec plugin still
// works, through client-node, imported for it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parse, stringify } from 'yaml';
import { nodeArgsFor } from '../../src/bench/entrypoints.js';
import { issueCertificates } from '../../src/webhook/cert-authority.js';
import { REPO_ROOT, createNamespace, installCRDs, testenv } from '../support/cluster.js';
import { ADMIN_TOKEN } from '../support/controller-env.js';
import { LOADED_PACKAGES_PRELOAD, loadedPackagesIn } from '../support/loaded-packages.js';

const CLIENT_NODE = '@kubernetes/client-node';
const TIMEOUT_MS = 120_000;

interface Kubeconfig {
  users: Array<{ name: string; user: Record<string, unknown> }>;
}

let namespace: string;
beforeAll(() => {
  installCRDs();
  namespace = createNamespace('footprint');
});

/** The test API server's kubeconfig with its user's fields replaced by `user(token)`. */
function kubeconfigWith(user: (token: string) => Record<string, unknown>): string {
  const config = parse(readFileSync(testenv.kubeconfig, 'utf8')) as Kubeconfig;
  const first = config.users[0];
  if (!first) throw new Error(`${testenv.kubeconfig} has no user`);
  first.user = user(String(first.user.token));
  const dir = mkdtempSync(join(tmpdir(), 'modelroute-footprint-'));
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

/** Prints the V8 new space's size at exit: `new-space-mb N`. */
const NEW_SPACE_REPORT = `data:text/javascript,${encodeURIComponent(
  "import { getHeapSpaceStatistics } from 'node:v8'; process.on('exit', () => process.stderr.write('new-space-mb ' + getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20 + '\\n'));",
)}`;

interface Footprint {
  packages: string[];
  /** The young generation's size (both semi-spaces) when the controller stopped, MB. */
  newSpaceMb: number;
}

/** Runs `modelroute controller` until it leads, stops it, and returns what it loaded. */
async function footprint(
  kubeconfig: string,
  otelEnv: Record<string, string> = {},
): Promise<Footprint> {
  // Only what a case sets: the runner's own OTEL_* variables (if any) are left out.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')),
  );
  const entry = nodeArgsFor('cli/main');
  const child = spawn(
    process.execPath,
    [
      ...entry.slice(0, -1),
      '--import',
      LOADED_PACKAGES_PRELOAD,
      '--import',
      NEW_SPACE_REPORT,
      ...entry.slice(-1),
      'controller',
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      namespace,
      '--lease-namespace',
      namespace,
      '--lease-name',
      `footprint-${Math.random().toString(16).slice(2, 8)}`,
      '--lease-duration',
      '3s',
      '--health-host',
      '127.0.0.1',
      '--health-port',
      '0',
    ],
    {
      cwd: REPO_ROOT,
      env: { ...env, ...otelEnv, MODELROUTE_ADMIN_TOKEN: ADMIN_TOKEN, KUBECONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const leading = new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr])
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        if (line.includes('"msg":"leading')) resolve();
      });
    void exited.then(() => reject(new Error(`controller exited:\n${output.join('\n')}`)));
  });
  try {
    await leading;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  const newSpace = output.find((l) => l.startsWith('new-space-mb '));
  return {
    packages: loadedPackagesIn(output),
    newSpaceMb: Number(newSpace?.slice('new-space-mb '.length)),
  };
}

const packagesLoaded = async (kubeconfig: string) => (await footprint(kubeconfig)).packages;

test(
  'with a bearer token kubeconfig the controller leads without loading client-node',
  async () => {
    const { packages, newSpaceMb } = await footprint(kubeconfigWith((token) => ({ token })));
    expect(packages).toEqual(expect.arrayContaining(['yaml', 'zod']));
    expect(packages).not.toContain(CLIENT_NODE);
    // No OTEL_* configuration: OpenTelemetry's SDK is not loaded (issue 16).
    expect(packages.filter((p) => p.startsWith('@opentelemetry/sdk'))).toEqual([]);
    // Its young generation is kept at its starting size (1 MB per semi-space), as the proxy's;
    // left to grow, loading the controller's modules takes it to 16 MB per semi-space.
    expect(newSpaceMb).toBeLessThanOrEqual(4);
  },
  TIMEOUT_MS,
);

test(
  'with a client certificate (key and certificate files) and a token file, it leads without client-node',
  async () => {
    const certs = await issueCertificates(
      { action: 'issue-all', reason: 'test' },
      undefined,
      { dnsNames: ['controller'], ipAddresses: [] },
      Date.now(),
    );
    const kubeconfig = kubeconfigWith((token) => {
      // The test API server has no client CA, so it asks for no certificate:
      // the token file authenticates, while the loader reads the certificate.
      const dir = mkdtempSync(join(tmpdir(), 'modelroute-footprint-cert-'));
      writeFileSync(join(dir, 'client.crt'), certs.cert);
      writeFileSync(join(dir, 'client.key'), certs.key, { mode: 0o600 });
      writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
      return {
        'client-certificate': join(dir, 'client.crt'),
        'client-key': join(dir, 'client.key'),
        tokenFile: join(dir, 'token'),
      };
    });
    expect(await packagesLoaded(kubeconfig)).not.toContain(CLIENT_NODE);
  },
  TIMEOUT_MS,
);

test(
  'with an exec plugin the controller leads through client-node, loaded for it',
  async () => {
    const kubeconfig = kubeconfigWith((token) => {
      const credential = {
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status: { token },
      };
      return {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: process.execPath,
          args: ['-e', `process.stdout.write(${JSON.stringify(JSON.stringify(credential))})`],
          interactiveMode: 'Never',
        },
      };
    });
    expect(await packagesLoaded(kubeconfig)).toContain(CLIENT_NODE);
  },
  TIMEOUT_MS,
);

test(
  'with the OTEL_* variables set the controller loads the Node SDK and still leads',
  async () => {
    const { packages } = await footprint(
      kubeconfigWith((token) => ({ token })),
      // Nothing listens there: export fails quietly, the controller is unaffected.
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_METRICS_EXPORTER: 'none' },
    );
    expect(packages).toContain('@opentelemetry/sdk-node');
  },
  TIMEOUT_MS,
);
