// `modelroute keys`: flag parsing, the key shown once, the refusals, list
// output and revoke, against the in-memory API server with a fixed clock and
// fixed randomness. The real API server's view is in test/controller/keys-cli.test.ts.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, modelAPIKey, modelTenant } from '../api/v1alpha1/index.js';
import { FakeKubeClient } from '../controller/__fixtures__/fake-kube-client.js';
import { modelAPIKeys, modelTenants } from '../k8s/kinds.js';
import {
  KubeApiError,
  type JsonPatchOperation,
  type ObjectRef,
  type ResourceKind,
} from '../k8s/types.js';
import { apiKeyObject } from './__fixtures__/api-keys.js';
import { parseCreate, parseList, parseRevoke, runKeys, type KeysDeps } from './keys.js';

const NOW = Date.parse('2026-12-03T04:00:00Z');
/** 32 bytes of 0x07: the key is always mr-BwcH... */
const fixedRandom = (n: number): Buffer => Buffer.alloc(n, 7);
const FIXED_KEY = `mr-${Buffer.alloc(32, 7).toString('base64url')}`;

/** The fake plus JSON Patch `add`, the one operation `keys revoke` sends. */
class PatchableFake extends FakeKubeClient {
  readonly patches: JsonPatchOperation[][] = [];
  async patch(
    kind: ResourceKind<unknown>,
    ref: ObjectRef | { name: string },
    operations: JsonPatchOperation[],
  ): Promise<void> {
    this.patches.push(operations);
    const current = (await this.get(kind, ref)) as Record<string, unknown> | undefined;
    if (!current) throw new Error(`${kind.plural} "${ref.name}" not found`);
    for (const op of operations) {
      if (op.op !== 'add') throw new Error(`the fake patches only with add, not ${op.op}`);
      const parts = op.path.split('/').slice(1);
      const last = parts.pop() ?? '';
      let target = current;
      for (const p of parts) target = target[p] as Record<string, unknown>;
      target[last] = op.value;
    }
    await this.replace(kind, current);
  }
}

function harness(contextNamespace?: string) {
  const kube = new PatchableFake();
  const out: string[] = [];
  const err: string[] = [];
  const connects: { kubeconfig?: string | undefined; context?: string | undefined }[] = [];
  const deps: KeysDeps = {
    nowMs: () => NOW,
    random: fixedRandom,
    connect: (target) => {
      connects.push(target);
      return { client: kube, namespace: contextNamespace };
    },
  };
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  return {
    kube,
    out,
    err,
    connects,
    run: (...argv: string[]) => runKeys(argv, io, deps),
  };
}

const tenant = (namespace: string, name: string) =>
  modelTenant.parse({
    apiVersion: API_VERSION,
    kind: 'ModelTenant',
    metadata: { namespace, name },
    spec: {},
  });

describe('keys flags', () => {
  it('reads create, list and revoke command lines', () => {
    expect(
      parseCreate([
        'ci',
        '--tenant',
        'team-a',
        '-n',
        'apps',
        '--expires',
        '30d',
        '--context',
        'prod',
        '--kubeconfig',
        '/k',
      ]),
    ).toEqual({
      ok: true,
      flags: {
        name: 'ci',
        tenant: 'team-a',
        namespace: 'apps',
        expires: '30d',
        context: 'prod',
        kubeconfig: '/k',
        allowMissingTenant: false,
      },
    });
    expect(parseList(['-A', '-o', 'json'])).toEqual({
      ok: true,
      flags: { allNamespaces: true, output: 'json' },
    });
    expect(parseRevoke(['ci', '-n', 'apps'])).toEqual({
      ok: true,
      flags: { name: 'ci', namespace: 'apps' },
    });
    expect(parseCreate(['ci', '--tenant', 't', '--help'])).toBe('help');
  });

  it.each([
    [['--tenant', 't'], "keys create needs the key's NAME"],
    [['a', 'b', '--tenant', 't'], 'keys create takes one NAME, got 2: a b'],
    [['ci'], 'keys create needs --tenant T: the ModelTenant the key calls as'],
    [['CI', '--tenant', 't'], 'NAME: must be a lowercase RFC 1123 name'],
    [['ci', '--tenant', 'Team_A'], '--tenant: must be a lowercase RFC 1123 name'],
    [['ci', '--tenant', 't', '-o', 'json'], '--output for create can only be yaml (with --file)'],
    [['ci', '--tenant', 't', '-o', 'yaml'], '--output yaml needs --file F'],
    [['ci', '--tenant', 't', '--bogus'], "Unknown option '--bogus'"],
  ])('refuses create %j with exit 2: %s', (argv, message) => {
    const parsed = parseCreate(argv);
    expect(parsed).toMatchObject({ ok: false, code: 2 });
    expect(parsed !== 'help' && !parsed.ok && parsed.message).toContain(message);
  });

  it.each([
    [['-A', '-n', 'x'], '-A and -n exclude each other'],
    [['-o', 'yaml'], '--output must be table or json'],
    [['ci'], 'keys list takes no NAME (got ci); use -n NS or -A'],
  ])('refuses list %j with exit 2: %s', (argv, message) => {
    const parsed = parseList(argv);
    expect(parsed !== 'help' && !parsed.ok && parsed.message).toContain(message);
  });

  it('answers help, an unknown verb and no verb', async () => {
    const h = harness();
    expect(await h.run('--help')).toBe(0);
    expect(h.out.join('\n')).toContain('usage: modelroute keys <create|list|revoke>');
    expect(await h.run('rotate')).toBe(2);
    expect(h.err.join('\n')).toContain('unknown keys command "rotate": use create, list or revoke');
    expect(await h.run()).toBe(2);
    expect(await h.run('create', '--tenant', 't')).toBe(2);
    expect(h.err.at(-1)).toBe(
      "keys create needs the key's NAME\n\nRun 'modelroute keys --help' for the options.",
    );
    // Nothing reached the cluster for a command line that could not be read.
    expect(h.connects).toEqual([]);
  });
});

describe('keys create', () => {
  it('prints only the key on stdout and stores only its hash', async () => {
    const h = harness();
    h.kube.put(modelTenants, tenant('apps', 'team-a'));
    expect(
      await h.run('create', 'ci', '--tenant', 'team-a', '-n', 'apps', '--expires', '30d'),
    ).toBe(0);
    expect(h.out).toEqual([FIXED_KEY]);
    expect(h.err).toEqual([
      'created ModelAPIKey apps/ci in the cluster for tenant team-a (prefix mr-BwcHBw, expires 2027-01-02T04:00:00Z); the key above is shown only now and cannot be shown again: store it',
    ]);
    const stored = h.kube.peek(modelAPIKeys, { namespace: 'apps', name: 'ci' });
    expect(stored?.spec).toEqual({
      tenant: 'team-a',
      hash: `sha256:${createHash('sha256').update(FIXED_KEY).digest('hex')}`,
      prefix: 'mr-BwcHBw',
      expiresAt: '2027-01-02T04:00:00Z',
      revoked: false,
    });
    expect(JSON.stringify(stored)).not.toContain(FIXED_KEY.slice(3));
  });

  it('refuses an existing name, and the key is not printed', async () => {
    const h = harness();
    h.kube.put(modelTenants, tenant('apps', 'team-a'));
    h.kube.put(modelAPIKeys, apiKeyObject('apps', 'ci'));
    expect(await h.run('create', 'ci', '--tenant', 'team-a', '-n', 'apps')).toBe(1);
    expect(h.out).toEqual([]);
    expect(h.err.join('\n')).toBe(
      "ModelAPIKey apps/ci already exists; pick another name (a key's value is never shown again, so an existing key cannot be re-issued: revoke it with 'modelroute keys revoke ci -n apps')",
    );
  });

  it('refuses a tenant missing from the namespace, saying how to create it, unless told to go on', async () => {
    const h = harness();
    h.kube.put(modelTenants, tenant('other', 'team-a'));
    expect(await h.run('create', 'ci', '--tenant', 'team-a', '-n', 'apps')).toBe(1);
    const message = h.err.join('\n');
    expect(message).toContain('ModelTenant "team-a" does not exist in namespace apps');
    expect(message).toContain('kubectl apply -n apps -f - <<EOF');
    expect(message).toContain('--allow-missing-tenant');
    expect(h.kube.peek(modelAPIKeys, { namespace: 'apps', name: 'ci' })).toBeUndefined();

    expect(
      await h.run('create', 'ci', '--tenant', 'team-a', '-n', 'apps', '--allow-missing-tenant'),
    ).toBe(0);
    expect(h.out).toEqual([FIXED_KEY]);
    expect(h.kube.callsOf('exists')).toHaveLength(1);
  });

  it.each([
    ['yesterday', 'got "yesterday"'],
    ['2026-12-01T00:00:00Z', 'is not in the future (now is 2026-12-03T04:00:00Z)'],
    ['0s', 'is not in the future'],
  ])('refuses --expires %s with exit 1 before touching the cluster', async (expires, message) => {
    const h = harness();
    expect(await h.run('create', 'ci', '--tenant', 't', '--expires', expires)).toBe(1);
    expect(h.err.join('\n')).toContain(message);
    expect(h.out).toEqual([]);
    expect(h.connects).toEqual([]);
  });

  it('uses -n, else the kubeconfig context namespace, else default', async () => {
    for (const [args, contextNs, expected] of [
      [['-n', 'given'], 'ctx', 'given'],
      [[], 'ctx', 'ctx'],
      [[], undefined, 'default'],
    ] as const) {
      const h = harness(contextNs);
      expect(await h.run('create', 'ci', '--tenant', 't', '--allow-missing-tenant', ...args)).toBe(
        0,
      );
      expect(h.kube.peek(modelAPIKeys, { namespace: expected, name: 'ci' })).toBeDefined();
    }
  });

  it('passes --kubeconfig and --context to the connection', async () => {
    const h = harness();
    await h.run('list', '--kubeconfig', '/tmp/k', '--context', 'prod');
    expect(h.connects).toEqual([{ kubeconfig: '/tmp/k', context: 'prod' }]);
  });

  it('appends to a YAML file in local mode, refusing a second key of the same name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelroute-keys-'));
    const file = join(dir, 'keys.yaml');
    writeFileSync(
      file,
      'kind: ModelTenant\napiVersion: modelroute.io/v1alpha1\nmetadata: {name: team-b}\nspec: {}', // no final newline
    );
    const h = harness();
    expect(await h.run('create', 'ci', '--tenant', 'team-a', '--file', file)).toBe(0);
    expect(h.err[0]).toBe(
      `note: ${file} has no ModelTenant default/team-a; give 'modelroute dev' a file that has one, or the key is refused (a key calls only as an existing tenant)`,
    );
    h.err.length = 0;
    expect(await h.run('create', 'web', '--tenant', 'team-b', '-o', 'yaml', '-f', file)).toBe(0);
    expect(h.err).toHaveLength(1); // the tenant is in the file: no note
    expect(h.out).toEqual([FIXED_KEY, FIXED_KEY]);
    expect(h.connects).toEqual([]); // local mode never reads a kubeconfig

    expect(await h.run('create', 'ci', '--tenant', 'team-a', '--file', file)).toBe(1);
    expect(h.err.at(-1)).toBe(
      `${file} already has ModelAPIKey default/ci; pick another name, or delete that document to replace the key`,
    );

    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(FIXED_KEY.slice(3));
    const docs = parseAllDocuments(text).map((d) => d.toJS() as unknown);
    expect(docs).toHaveLength(3);
    const keys = docs.slice(1).map((d) => modelAPIKey.parse(d));
    expect(keys.map((k) => [k.metadata.namespace, k.metadata.name, k.spec.tenant])).toEqual([
      ['default', 'ci', 'team-a'],
      ['default', 'web', 'team-b'],
    ]);
  });

  it('refuses to append to a file that is not YAML', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelroute-keys-'));
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'a: [unclosed\n');
    const h = harness();
    expect(await h.run('create', 'ci', '--tenant', 't', '--file', file)).toBe(1);
    expect(h.err.at(-1)).toMatch(
      /keys\.yaml is not valid YAML \(.+\); fix it or use another --file$/,
    );
    expect(h.out).toEqual([]);
    expect(readFileSync(file, 'utf8')).toBe('a: [unclosed\n');
  });
});

describe('keys list', () => {
  const seed = (kube: FakeKubeClient): void => {
    kube.put(modelAPIKeys, apiKeyObject('apps', 'web', {}, '2026-12-03T03:55:00Z'));
    kube.put(modelAPIKeys, apiKeyObject('apps', 'ci', { revoked: true, tenant: 'team-b' }));
    kube.put(
      modelAPIKeys,
      apiKeyObject('apps', 'old', { expiresAt: '2026-12-02T00:00:00Z', prefix: 'mr-zzzzzz' }),
    );
    kube.put(modelAPIKeys, apiKeyObject('ops', 'bot', { expiresAt: '2027-01-01T00:00:00Z' }));
  };

  it('shows one namespace as a table: Active, Revoked, Expired, never a hash', async () => {
    const h = harness('apps');
    seed(h.kube);
    expect(await h.run('list')).toBe(0);
    expect(h.out.join('\n')).toBe(
      [
        'NAME   TENANT   PREFIX      STATUS    EXPIRES                AGE',
        'ci     team-b   mr-abcdef   Revoked   never                  2d',
        'old    team-a   mr-zzzzzz   Expired   2026-12-02T00:00:00Z   2d',
        'web    team-a   mr-abcdef   Active    never                  5m',
      ].join('\n'),
    );
    expect(h.out.join('\n')).not.toContain('sha256');
  });

  it('shows every namespace with -A, and JSON without hashes', async () => {
    const h = harness();
    seed(h.kube);
    expect(await h.run('list', '-A')).toBe(0);
    expect(h.out.join('\n').split('\n')[0]).toBe(
      'NAME   NAMESPACE   TENANT   PREFIX      STATUS    EXPIRES                AGE',
    );
    expect(h.out.join('\n')).toContain(
      'bot    ops         team-a   mr-abcdef   Active    2027-01-01T00:00:00Z   2d',
    );
    h.out.length = 0;
    expect(await h.run('list', '-n', 'ops', '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out.join('\n'))).toEqual([
      {
        name: 'bot',
        namespace: 'ops',
        tenant: 'team-a',
        prefix: 'mr-abcdef',
        status: 'Active',
        expiresAt: '2027-01-01T00:00:00Z',
        createdAt: '2026-12-01T04:00:00Z',
      },
    ]);
  });

  it('says so on stderr when there are no keys', async () => {
    const h = harness();
    expect(await h.run('list', '-n', 'empty')).toBe(0);
    expect(h.out).toEqual([]);
    expect(h.err).toEqual(['No ModelAPIKeys found in namespace empty.']);
  });
});

describe('keys revoke', () => {
  it('sets spec.revoked once, and says so again without changing anything', async () => {
    const h = harness();
    h.kube.put(modelAPIKeys, apiKeyObject('apps', 'ci'));
    expect(await h.run('revoke', 'ci', '-n', 'apps')).toBe(0);
    expect(h.out.at(-1)).toBe(
      'revoked ModelAPIKey apps/ci (tenant team-a, prefix mr-abcdef): gateways refuse it once the controller pushes the change (the object stays for the audit trail)',
    );
    expect(h.kube.peek(modelAPIKeys, { namespace: 'apps', name: 'ci' })?.spec.revoked).toBe(true);
    expect(await h.run('revoke', 'ci', '-n', 'apps')).toBe(0);
    expect(h.out.at(-1)).toBe(
      'ModelAPIKey apps/ci (tenant team-a, prefix mr-abcdef) was already revoked; nothing changed',
    );
    expect(h.kube.patches).toEqual([[{ op: 'add', path: '/spec/revoked', value: true }]]);
  });

  it('names the way to see keys when the name is unknown', async () => {
    const h = harness();
    expect(await h.run('revoke', 'nope', '-n', 'apps')).toBe(1);
    expect(h.err).toEqual([
      'ModelAPIKey "nope" not found in namespace apps; \'modelroute keys list -n apps\' (or -A for every namespace) shows the keys',
    ]);
  });
});

describe('keys against an API server that says no', () => {
  it('names the rights it needs when forbidden, and prints no key', async () => {
    const h = harness();
    const path = '/apis/modelroute.io/v1alpha1/namespaces/apps/modeltenants/t';
    const denial = `GET ${path}: modeltenants.modelroute.io "t" is forbidden: User "dev" cannot get resource "modeltenants"`;
    h.kube.failNext('exists', new KubeApiError(denial, 403, 'Forbidden'));
    expect(await h.run('create', 'ci', '--tenant', 't', '-n', 'apps')).toBe(1);
    expect(h.out).toEqual([]);
    expect(h.err.join('\n')).toMatch(
      /^not allowed: GET .* is forbidden: User "dev" cannot get resource "modeltenants"; modelroute keys needs get on modeltenants and create, get, list and patch on modelapikeys \(group modelroute.io\) in the key's namespace$/,
    );
  });

  it('says the CRDs are missing, and when the cluster cannot be reached', async () => {
    const h = harness();
    const path = '/apis/modelroute.io/v1alpha1/namespaces/default/modelapikeys';
    const missing = `GET ${path}: the server could not find the requested resource`;
    h.kube.failNext('list', new KubeApiError(missing, 404, 'NotFound'));
    expect(await h.run('list')).toBe(1);
    expect(h.err.at(-1)).toBe(
      "this cluster does not serve ModelAPIKeys: install modelroute's CRDs (helm install, or kubectl apply -f crds/)",
    );
    h.kube.setDown(true);
    expect(await h.run('revoke', 'ci')).toBe(1);
    expect(h.err.at(-1)).toBe('cannot reach the cluster: connect ECONNREFUSED 127.0.0.1:6443');
  });
});
