// What a proxy reports in /admin/v1/stats about the backends of its table it
// cannot get a key for: a real proxy with a mounted-Secret directory that
// lacks the key (a backend added after the pod was admitted), then the key
// appearing; and the reasons for delivered keys, never holding a value.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelBackendGrant } from '../api/v1alpha1/index.js';
import { compileRoutingTable } from '../routing/compile.js';
import { backend, route } from '../routing/__fixtures__/objects.js';
import { createLogger } from '../telemetry/logger.js';
import { CredentialCheck } from './credential-check.js';
import { createCredentialResolver, type DeliveredKeys } from './credentials.js';
import { startProxy, type RunningProxy } from './proxy.js';

const TOKEN = 'credential-check-test-token';
const KEY_VALUE = 'sk-mounted-later-0123456789';

function table() {
  const keyed = backend('keyed', { secretRef: { name: 'provider', key: 'apiKey' } }, 'team-a');
  const open = backend('open', {}, 'team-a');
  const chat = route(
    'chat',
    { rules: [{ name: 'all', backendRefs: [{ name: 'keyed' }, { name: 'open' }] }] },
    { namespace: 'team-a' },
  );
  return compileRoutingTable([chat], [keyed, open]);
}

async function stats(proxy: RunningProxy): Promise<Record<string, unknown>> {
  const res = await fetch(`${proxy.adminUrl}/admin/v1/stats`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

test('a mounted directory without the key: unavailable with the restart fix; the key appears: cleared', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mr-credcheck-'));
  const proxy = await startProxy({
    logger: createLogger({ level: 'error', write: () => {} }),
    adminToken: { value: TOKEN },
    credentialsDir: dir,
    namespace: 'team-a',
  });
  try {
    const pushed = await fetch(`${proxy.adminUrl}/admin/v1/table`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(table()),
    });
    expect(pushed.status).toBe(200);
    const before = await stats(proxy);
    expect(before.credentials).toEqual({
      unavailable: [
        {
          backendId: 'team-a/keyed',
          reason: expect.stringContaining(
            'Secret "provider" key "apiKey" is not mounted in this pod',
          ) as string,
        },
      ],
    });
    expect(JSON.stringify(before)).toContain('kubectl rollout restart deployment/');
    expect(JSON.stringify(before)).toContain('-n team-a');

    // The kubelet updates a mounted Secret in place: no new table needed.
    mkdirSync(join(dir, 'provider'));
    writeFileSync(join(dir, 'provider', 'apiKey'), KEY_VALUE);
    const after = await stats(proxy);
    expect(after.credentials).toEqual({ unavailable: [] });
    expect(JSON.stringify(after)).not.toContain(KEY_VALUE);
  } finally {
    await proxy.close();
  }
});

test('delivered keys: refused gives the controller reason, pending says so, delivered clears; no value in any reason', () => {
  const platform = backend('gpt', { secretRef: { name: 'openai', key: 'key' } }, 'platform');
  const chat = route(
    'chat',
    { rules: [{ name: 'all', backendRefs: [{ name: 'gpt', namespace: 'platform' }] }] },
    { namespace: 'team-a' },
  );
  const t = compileRoutingTable([chat], [platform], new Map(), {
    grants: [
      modelBackendGrant.parse({
        apiVersion: 'modelroute.io/v1alpha1',
        kind: 'ModelBackendGrant',
        metadata: { name: 'team-a', namespace: 'platform' },
        spec: { from: [{ namespace: 'team-a' }] },
      }),
    ],
  });
  expect(t.backends.map((b) => b.id)).toEqual(['platform/gpt']);
  let state: ReturnType<DeliveredKeys['lookup']> = { state: 'pending', detail: 'fetching' };
  const check = new CredentialCheck({
    resolver: createCredentialResolver({ env: {}, delivered: { lookup: () => state } }),
    namespace: 'team-a',
  });
  check.onTable(t);
  expect(check.report()).toEqual([
    {
      backendId: 'platform/gpt',
      reason: 'its API key is being fetched from the modelroute controller',
    },
  ]);
  state = { state: 'refused', reason: 'namespace platform is not a credential namespace' };
  check.recheck();
  expect(check.report()).toEqual([
    {
      backendId: 'platform/gpt',
      reason: 'the controller refused delivery: namespace platform is not a credential namespace',
    },
  ]);
  state = { state: 'delivered', apiKey: KEY_VALUE };
  expect(check.report()).toEqual([]);
});

test('an origin refusal is reported once per table, not re-counted at every report', () => {
  const keyed = backend('keyed', { secretRef: { name: 'provider', key: 'apiKey' } }, 'team-a');
  const chat = route(
    'chat',
    { rules: [{ name: 'all', backendRefs: [{ name: 'keyed' }] }] },
    { namespace: 'team-a' },
  );
  let refusals = 0;
  const check = new CredentialCheck({
    resolver: createCredentialResolver({
      env: { MODELROUTE_SECRET_PROVIDER_APIKEY: KEY_VALUE },
      binding: new Map([['provider/apiKey', new Set(['https://elsewhere.example'])]]),
      onRefused: () => (refusals += 1),
    }),
  });
  check.onTable(compileRoutingTable([chat], [keyed]));
  for (let i = 0; i < 5; i += 1) {
    const [only] = check.report();
    expect(only?.reason).toContain('restart the pod');
    expect(only?.reason).not.toContain(KEY_VALUE);
  }
  expect(refusals).toBe(1);
});
