// Our kubeconfig loader: every field it reads, KUBECONFIG lists as kubectl
// merges them, the pod's ServiceAccount (token re-read when rotated), the
// kubeconfigs it hands to client-node, and what it says about bad input.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';
import { issueCertificates } from '../webhook/cert-authority.js';
import { openClusterAccess } from './cluster-access-fallback.js';
import {
  chooseClusterAccess,
  type ClusterAccess,
  type KubeconfigPlaces,
} from './cluster-access.js';
import { createKubeClient } from './kube-client.js';
import { secrets } from './kinds.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'modelroute-access-'));

/** Places with nothing in them: no KUBECONFIG, no ~/.kube/config, no ServiceAccount. */
const emptyPlaces = (dir = tempDir()): KubeconfigPlaces => ({
  env: {},
  homeDir: join(dir, 'home'),
  serviceAccountDir: join(dir, 'serviceaccount'),
});

interface Config {
  clusters?: Array<{ name: string; cluster: Record<string, unknown> }>;
  users?: Array<{ name: string; user: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context: Record<string, unknown> }>;
  'current-context'?: string;
}

function config(
  cluster: Record<string, unknown>,
  user: Record<string, unknown> = {},
  extra: Config = {},
): Config {
  return {
    clusters: [{ name: 'c', cluster }, ...(extra.clusters ?? [])],
    users: [{ name: 'u', user }, ...(extra.users ?? [])],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }, ...(extra.contexts ?? [])],
    'current-context': 'current-context' in extra ? extra['current-context'] : 'x',
  };
}

/** Writes `content` (YAML unless a string) as `name` in `dir`; returns its path. */
function write(dir: string, name: string, content: Config | string): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

function ready(choice: ReturnType<typeof chooseClusterAccess>): ClusterAccess {
  if (choice.kind !== 'ready') throw new Error(`expected our own loader, got: ${choice.reason}`);
  return choice.access;
}

const load = (path: string, context?: string) =>
  ready(chooseClusterAccess({ kubeconfigPath: path, context }, emptyPlaces()));

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('a kubeconfig file', () => {
  it('gives the server (no trailing slash) and a bearer token', async () => {
    const dir = tempDir();
    const access = load(
      write(dir, 'config', config({ server: 'https://10.0.0.1:6443/' }, { token: 'tok-1' })),
    );
    expect(access.server).toBe('https://10.0.0.1:6443');
    expect(await access.requestOptions()).toEqual({ headers: { Authorization: 'Bearer tok-1' } });
  });

  it('reads JSON as well as YAML', () => {
    const dir = tempDir();
    const path = write(dir, 'config', JSON.stringify(config({ server: 'http://127.0.0.1:8080' })));
    expect(load(path).server).toBe('http://127.0.0.1:8080');
  });

  it('reads the CA from data or from a file relative to the kubeconfig (the file wins, as in client-node)', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'pki'));
    writeFileSync(join(dir, 'pki', 'ca.crt'), 'CA FROM FILE');
    const fromData = load(
      write(
        dir,
        'a',
        config({ server: 'https://h', 'certificate-authority-data': b64('CA DATA') }),
      ),
    );
    expect((await fromData.requestOptions()).ca?.toString()).toBe('CA DATA');
    const both = config({
      server: 'https://h',
      'certificate-authority': 'pki/ca.crt',
      'certificate-authority-data': b64('CA DATA'),
    });
    expect((await load(write(dir, 'b', both)).requestOptions()).ca?.toString()).toBe(
      'CA FROM FILE',
    );
  });

  it('passes insecure-skip-tls-verify and tls-server-name to TLS', async () => {
    const dir = tempDir();
    const access = load(
      write(
        dir,
        'config',
        config({
          server: 'https://h',
          'insecure-skip-tls-verify': true,
          'tls-server-name': 'api.internal',
        }),
      ),
    );
    expect(await access.requestOptions()).toMatchObject({
      rejectUnauthorized: false,
      servername: 'api.internal',
    });
  });

  it('reads a client certificate and key from data or files', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'client.crt'), 'CERT FILE');
    writeFileSync(join(dir, 'client.key'), 'KEY FILE');
    const files = load(
      write(
        dir,
        'a',
        config(
          { server: 'https://h' },
          { 'client-certificate': 'client.crt', 'client-key': join(dir, 'client.key') },
        ),
      ),
    );
    const fromFiles = await files.requestOptions();
    expect([fromFiles.cert, fromFiles.key]).toEqual([
      Buffer.from('CERT FILE'),
      Buffer.from('KEY FILE'),
    ]);
    const data = load(
      write(
        dir,
        'b',
        config(
          { server: 'https://h' },
          { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
        ),
      ),
    );
    const fromData = await data.requestOptions();
    expect([fromData.cert, fromData.key]).toEqual([Buffer.from('CERT'), Buffer.from('KEY')]);
    expect(fromData.headers).toEqual({});
  });

  it('re-reads tokenFile (or token-file) on every request, so a rotated token is used', async () => {
    for (const field of ['tokenFile', 'token-file']) {
      const dir = tempDir();
      writeFileSync(join(dir, 'token'), 'first\n');
      const access = load(
        write(dir, 'config', config({ server: 'https://h' }, { [field]: 'token' })),
      );
      expect((await access.requestOptions()).headers).toEqual({ Authorization: 'Bearer first' });
      writeFileSync(join(dir, 'token'), 'second');
      expect((await access.requestOptions()).headers).toEqual({ Authorization: 'Bearer second' });
    }
  });

  it('switches cluster and user with --context', async () => {
    const dir = tempDir();
    const path = write(
      dir,
      'config',
      config(
        { server: 'https://dev' },
        { token: 'dev' },
        {
          clusters: [{ name: 'p', cluster: { server: 'https://prod' } }],
          users: [{ name: 'pu', user: { token: 'prod' } }],
          contexts: [
            { name: 'prod', context: { cluster: 'p', user: 'pu', namespace: 'payments' } },
          ],
        },
      ),
    );
    const prod = load(path, 'prod');
    expect(prod.server).toBe('https://prod');
    expect((await prod.requestOptions()).headers).toEqual({ Authorization: 'Bearer prod' });
  });

  it('reaches a TLS server through its CA under tls-server-name, token sent (a real https server)', async () => {
    const certs = await issueCertificates(
      { action: 'issue-all', reason: 'test' },
      undefined,
      { dnsNames: ['api.internal'], ipAddresses: [] },
      Date.now(),
    );
    const seen: Array<string | undefined> = [];
    const server = createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ kind: 'PartialObjectMetadata', metadata: { name: 'openai' } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const dir = tempDir();
      const path = write(
        dir,
        'config',
        config(
          {
            server: `https://127.0.0.1:${port}`,
            'certificate-authority-data': b64(certs.trustBundle),
            'tls-server-name': 'api.internal',
          },
          { token: 'tls-token' },
        ),
      );
      const client = createKubeClient({ kubeconfigPath: path, places: emptyPlaces() });
      expect(await client.exists(secrets, { namespace: 'team', name: 'openai' })).toBe(true);
      expect(seen).toEqual(['Bearer tls-token']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('KUBECONFIG with several files (kubectl merging)', () => {
  it('skips missing and empty entries; the first current-context and the first definition of a name win', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'one'));
    mkdirSync(join(dir, 'two'));
    writeFileSync(join(dir, 'two', 'ca.crt'), 'CA OF TWO');
    const one = write(join(dir, 'one'), 'config', {
      users: [{ name: 'u', user: { token: 'from-one' } }],
      'current-context': 'x',
    });
    const two = write(
      join(dir, 'two'),
      'config',
      config(
        { server: 'https://two', 'certificate-authority': 'ca.crt' },
        { token: 'from-two' },
        { 'current-context': 'elsewhere' },
      ),
    );
    const places = {
      ...emptyPlaces(),
      env: { KUBECONFIG: ['', join(dir, 'missing'), one, two].join(delimiter) },
    };
    const access = ready(chooseClusterAccess({}, places));
    expect(access.server).toBe('https://two');
    const opts = await access.requestOptions();
    expect(opts.headers).toEqual({ Authorization: 'Bearer from-one' });
    // Relative paths are relative to the file that defined the entry.
    expect(opts.ca?.toString()).toBe('CA OF TWO');
  });

  it('says so when none of the files exists', () => {
    const dir = tempDir();
    const places = { ...emptyPlaces(dir), env: { KUBECONFIG: join(dir, 'a') } };
    expect(() => chooseClusterAccess({}, places)).toThrow(
      /none of the files in KUBECONFIG exists .*; fix KUBECONFIG or pass --kubeconfig/,
    );
  });

  it('is used before ~/.kube/config, which is used when KUBECONFIG is unset', () => {
    const dir = tempDir();
    const places = emptyPlaces(dir);
    mkdirSync(join(places.homeDir!, '.kube'), { recursive: true });
    write(join(places.homeDir!, '.kube'), 'config', config({ server: 'https://home' }));
    expect(ready(chooseClusterAccess({}, places)).server).toBe('https://home');
    const env = write(dir, 'env-config', config({ server: 'https://env' }));
    expect(ready(chooseClusterAccess({}, { ...places, env: { KUBECONFIG: env } })).server).toBe(
      'https://env',
    );
  });
});

describe('in a pod (the ServiceAccount)', () => {
  function podPlaces(env: Record<string, string>): KubeconfigPlaces {
    const places = emptyPlaces();
    mkdirSync(places.serviceAccountDir);
    writeFileSync(join(places.serviceAccountDir, 'token'), 'sa-token-1');
    writeFileSync(join(places.serviceAccountDir, 'ca.crt'), 'CLUSTER CA');
    return { ...places, env };
  }

  it('uses KUBERNETES_SERVICE_HOST/PORT, ca.crt and the token, re-read when the kubelet rotates it', async () => {
    const places = podPlaces({
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
    });
    const access = ready(chooseClusterAccess({}, places));
    expect(access.server).toBe('https://10.96.0.1:443');
    const opts = await access.requestOptions();
    expect(opts.ca?.toString()).toBe('CLUSTER CA');
    expect(opts.headers).toEqual({ Authorization: 'Bearer sa-token-1' });
    writeFileSync(join(places.serviceAccountDir, 'token'), 'sa-token-2');
    expect((await access.requestOptions()).headers).toEqual({ Authorization: 'Bearer sa-token-2' });
  });

  it('brackets an IPv6 service address', () => {
    const places = podPlaces({
      KUBERNETES_SERVICE_HOST: 'fd00::1',
      KUBERNETES_SERVICE_PORT: '6443',
    });
    expect(ready(chooseClusterAccess({}, places)).server).toBe('https://[fd00::1]:6443');
  });

  it('says what is missing when the service variables are not set', () => {
    expect(() => chooseClusterAccess({}, podPlaces({}))).toThrow(
      /KUBERNETES_SERVICE_HOST\/KUBERNETES_SERVICE_PORT are not set, so the API server is unknown; pass --kubeconfig/,
    );
  });

  it('falls back to http://localhost:8080 with nothing at all, as client-node does', () => {
    expect(ready(chooseClusterAccess({}, emptyPlaces())).server).toBe('http://localhost:8080');
  });
});

describe('users and clusters only client-node can serve', () => {
  it.each([
    [
      'an exec plugin',
      {},
      { exec: { command: 'aws', apiVersion: 'client.authentication.k8s.io/v1beta1' } },
      'user "u" sets exec',
    ],
    ['an auth-provider', {}, { 'auth-provider': { name: 'oidc' } }, 'user "u" sets auth-provider'],
    [
      'basic auth',
      {},
      { username: 'admin', password: 'secret' },
      'user "u" sets username, user "u" sets password',
    ],
    ['impersonation', {}, { token: 't', as: 'someone' }, 'user "u" sets as'],
    ['a proxy', { 'proxy-url': 'http://proxy:3128' }, {}, 'cluster "c" sets proxy-url'],
  ])('%s goes to client-node', (_what, cluster, user, reason) => {
    const dir = tempDir();
    const choice = chooseClusterAccess(
      { kubeconfigPath: write(dir, 'config', config({ server: 'https://h', ...cluster }, user)) },
      emptyPlaces(),
    );
    expect(choice).toEqual({ kind: 'client-node', reason });
  });

  it('an exec plugin works through client-node (the plugin runs, its token is sent)', async () => {
    const dir = tempDir();
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-exec' },
    };
    const path = write(
      dir,
      'config',
      config(
        { server: 'https://h' },
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: process.execPath,
            args: ['-e', `process.stdout.write(${JSON.stringify(JSON.stringify(credential))})`],
            interactiveMode: 'Never',
          },
        },
      ),
    );
    const access = await openClusterAccess({ kubeconfigPath: path }, emptyPlaces())();
    expect(access.server).toBe('https://h');
    expect((await access.requestOptions()).headers).toMatchObject({
      Authorization: 'Bearer from-exec',
    });
  });
});

describe('a kubeconfig that cannot be used says what is wrong and how to fix it', () => {
  const cases: Array<[string, Config | string, RegExp, string | undefined]> = [
    [
      'not YAML',
      'clusters: [\n  - {name: c',
      /kubeconfig .*config is not valid YAML: .*; 'kubectl config view --kubeconfig .*' shows/,
      undefined,
    ],
    [
      'not a kubeconfig',
      'clusters: yes',
      /is not a kubeconfig: clusters: .*; each of clusters, users and contexts is a list/,
      undefined,
    ],
    [
      'no current-context',
      config({ server: 'https://h' }, {}, { 'current-context': undefined }),
      /sets no current-context; pass --context NAME or run 'kubectl config use-context NAME'/,
      undefined,
    ],
    [
      'an unknown --context',
      config({ server: 'https://h' }),
      /the kubeconfig has no context "staging" \(it has: x\); 'kubectl config get-contexts' lists them/,
      'staging',
    ],
    [
      'a context naming a cluster that is not there',
      { ...config({ server: 'https://h' }), clusters: [] },
      /context "x" in kubeconfig .* names cluster "c", which it does not define; add it under clusters, or fix the context/,
      undefined,
    ],
    [
      'a cluster without a server',
      config({}),
      /cluster "c" in kubeconfig .*: server is missing: set it to the API server URL, e.g. https:\/\/10.0.0.1:6443/,
      undefined,
    ],
    [
      'a server that is not a URL',
      config({ server: '10.0.0.1:6443' }),
      /cluster "c" in kubeconfig .*: server is not an http\(s\) URL such as https:\/\/10.0.0.1:6443/,
      undefined,
    ],
    [
      'CA data that is not base64',
      config({ server: 'https://h', 'certificate-authority-data': '-----BEGIN CERTIFICATE-----' }),
      /certificate-authority-data is not base64 \(paste the output of base64 -w0 FILE\)/,
      undefined,
    ],
    [
      'a certificate without its key',
      config({ server: 'https://h' }, { 'client-certificate-data': b64('CERT') }),
      /user "u" in kubeconfig .* has a client certificate but no key; set both client-certificate\(-data\) and client-key\(-data\)/,
      undefined,
    ],
  ];
  it.each(cases)('%s', (_what, content, message, context) => {
    const dir = tempDir();
    expect(() => load(write(dir, 'config', content), context)).toThrow(message);
  });

  it('a file that cannot be read', () => {
    expect(() => load(join(tempDir(), 'absent'))).toThrow(
      /cannot read kubeconfig .*absent: ENOENT.*; pass --kubeconfig with a readable file, or set KUBECONFIG/,
    );
  });

  it('is refused when the client is created, not at its first request', () => {
    expect(() => createKubeClient({ kubeconfigPath: join(tempDir(), 'absent') })).toThrow(
      /cannot read kubeconfig/,
    );
  });
});
