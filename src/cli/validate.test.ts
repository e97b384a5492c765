import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './commands.js';

const root = join(import.meta.dirname, '..', '..');

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'modelroute-validate-')), 'm.yaml');
  writeFileSync(path, text);
  return path;
}

describe('modelroute validate', () => {
  test.each([['samples'], ['examples']])('the shipped %s are valid', async (dir) => {
    const r = await cli(['validate', '-f', join(root, 'manifests', dir)]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^OK: \d+ file\(s\): \d+ ModelBackend\(s\), \d+ ModelRoute\(s\)/);
    expect(r.code).toBe(0);
  });

  test('every valid fixture of the CRD suite passes offline too', async () => {
    const r = await cli(['validate', '-f', join(root, 'test', 'crd-validation', 'valid')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  test('a reference to a missing backend is an error naming file, line, object and field', async () => {
    const path = file(`apiVersion: modelroute.io/v1alpha1
kind: ModelRoute
metadata: {name: chat, namespace: team-a}
spec:
  model: chat
  rules:
    - name: r
      backendRefs:
        - name: nowhere
`);
    const r = await cli(['validate', '-f', path]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `${path}:9: ModelRoute team-a/chat: spec.rules[0].backendRefs[0].name: ModelBackend "nowhere" not found in namespace team-a [BackendNotFound]`,
    );
    expect(r.err).toMatch(/FAILED: 1 error\(s\)/);
  });

  test('tenants, keys and grants are checked: schema, and what they name among the files', async () => {
    const path = file(`apiVersion: modelroute.io/v1alpha1
kind: ModelTenant
metadata: {name: acme, namespace: team-a}
spec:
  priority: high
  routes: [chat]
---
apiVersion: modelroute.io/v1alpha1
kind: ModelAPIKey
metadata: {name: k1, namespace: team-a}
spec:
  tenant: globex
  hash: sha256:${'0'.repeat(64)}
  prefix: mr-abcd
---
apiVersion: modelroute.io/v1alpha1
kind: ModelBackendGrant
metadata: {name: g, namespace: platform}
spec:
  from: []
  backends: [gpt]
`);
    const r = await cli(['validate', '-f', path]);
    expect(r.code).toBe(1);
    const errors = r.err.split('\n');
    expect(errors).toEqual(
      expect.arrayContaining([
        `${path}:6: ModelTenant team-a/acme: spec.routes[0]: ModelRoute "chat" is not among the objects of namespace team-a [RouteNotFound]`,
        `${path}:12: ModelAPIKey team-a/k1: spec.tenant: ModelTenant "globex" is not among the objects of namespace team-a; a key of a missing tenant is refused (401) [TenantNotFound]`,
        expect.stringMatching(
          new RegExp(`^${path}:20: ModelBackendGrant platform/g: spec.from: .*`),
        ),
      ]),
    );
  });

  test('a consistent set of tenants, keys and grants is valid and counted', async () => {
    const path = file(`apiVersion: modelroute.io/v1alpha1
kind: ModelTenant
metadata: {name: acme}
spec: {priority: high, trustedHeaders: [task]}
---
apiVersion: modelroute.io/v1alpha1
kind: ModelAPIKey
metadata: {name: k1}
spec: {tenant: acme, hash: 'sha256:${'a'.repeat(64)}', prefix: mr-abcd}
---
apiVersion: modelroute.io/v1alpha1
kind: ModelBackendGrant
metadata: {name: g}
spec:
  from: [{namespace: team-a}]
`);
    const r = await cli(['validate', '-f', path]);
    expect(r.err).toBe('');
    expect(r.out).toBe(
      'OK: 1 file(s): 0 ModelBackend(s), 0 ModelRoute(s), 1 ModelTenant(s), 1 ModelAPIKey(s), 1 ModelBackendGrant(s), 0 other object(s) ignored',
    );
  });

  test('schema errors and cross-field rules are all reported in one run', async () => {
    const path = file(`apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: {name: both}
spec:
  provider: openai
  endpoint: https://api.openai.com/v1
  serviceRef: {name: svc, port: 80}
  model: x
  pricing: {inputPerMillion: -1}
`);
    const r = await cli(['validate', '-f', path, '-o', 'json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as {
      ok: boolean;
      errors: { path: string; message: string }[];
    };
    expect(report.ok).toBe(false);
    expect(report.errors.map((e) => e.path)).toEqual(['spec', 'spec.pricing.inputPerMillion']);
    expect(report.errors[0]?.message).toBe('set exactly one of spec.endpoint or spec.serviceRef');
  });

  test('usage errors exit 2 and say what is expected', async () => {
    expect(await cli(['validate'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('validate needs at least one -f'),
    });
    expect(await cli(['validate', '--bogus'])).toMatchObject({
      code: 2,
      err: expect.stringContaining("Unknown option '--bogus'"),
    });
    expect(await cli(['frobnicate'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('unknown command "frobnicate"'),
    });
  });

  test('an empty directory is a failure, not a silent pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelroute-empty-'));
    expect(await cli(['validate', '-f', dir])).toMatchObject({
      code: 1,
      err: expect.stringContaining('no .yaml, .yml or .json files found'),
    });
  });
  describe('header regexes are RE2, as the API server checks them', () => {
    const routeWith = (pattern: string) =>
      file(`apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: {name: b, namespace: team-a}
spec: {provider: openai, model: gpt-4o-mini, endpoint: https://api.openai.com/v1}
---
apiVersion: modelroute.io/v1alpha1
kind: ModelRoute
metadata: {name: chat, namespace: team-a}
spec:
  model: chat
  rules:
    - name: r
      matches:
        - headers:
            - {name: x-team, type: RegularExpression, value: '${pattern}'}
      backendRefs:
        - name: b
`);

    test.each(['(?i)beta-.*', 'team[[:digit:]]+', '(a+)+'])('%s passes', async (pattern) => {
      const r = await cli(['validate', '-f', routeWith(pattern)]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
    });

    test.each(['beta-(?=[0-9])', '(a)\\1'])(
      '%s (JavaScript, not RE2) fails saying RE2',
      async (pattern) => {
        const r = await cli(['validate', '-f', routeWith(pattern)]);
        expect(r.code).toBe(1);
        expect(r.err).toContain(
          'spec.rules[0].matches[0].headers[0].value: value must be a valid RE2 regular expression',
        );
      },
    );
  });
});

describe('modelroute validate: backends of another namespace', () => {
  test('a ref to another namespace’s backend without a ModelBackendGrant is RefNotPermitted, with the grant to apply', async () => {
    const path = file(`apiVersion: modelroute.io/v1alpha1
kind: ModelRoute
metadata: {name: chat, namespace: app}
spec:
  model: chat
  rules:
    - name: main
      backendRefs: [{name: gpt, namespace: platform}]
---
apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: {name: gpt, namespace: platform}
spec: {provider: openai-compatible, endpoint: "http://gpt:8000/v1", model: gpt}
`);
    const r = await cli(['validate', '-f', path]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `${path}:8: ModelRoute app/chat: spec.rules[0].backendRefs[0].name: ModelBackend platform/gpt is in another namespace`,
    );
    expect(r.err).toContain(
      'kubectl apply a ModelBackendGrant in namespace platform with spec.from: [{namespace: app}]',
    );
    expect(r.err).toContain('[RefNotPermitted]');
  });
});

describe('modelroute validate: load and time conditions', () => {
  test('a load condition on a backend the route does not use and an unknown time zone are errors at their lines', async () => {
    const path = file(`apiVersion: modelroute.io/v1alpha1
kind: ModelRoute
metadata: {name: chat, namespace: app}
spec:
  model: chat
  rules:
    - name: batch-off-peak
      matches:
        - load: {backend: gpt-4o, above: 0.8}
          timeWindows:
            - {start: "09:00", end: "17:00", timeZone: Europe/Berlinn}
      backendRefs: [{name: mini}]
---
apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: {name: mini, namespace: app}
spec: {provider: openai-compatible, endpoint: "http://mini:8000/v1", model: mini}
`);
    const r = await cli(['validate', '-f', path]);
    expect(r.code).toBe(1);
    const errors = r.err.split('\n');
    expect(errors).toContain(
      `${path}:9: ModelRoute app/chat: spec.rules[0].matches[0].load.backend: rule "batch-off-peak" matches on the load of ModelBackend app/gpt-4o, which this route does not use, so no proxy serving it tracks that load; name one of its backends (app/mini) or add app/gpt-4o to a rule's or the fallback's backendRefs [LoadBackendNotReferenced]`,
    );
    expect(errors.find((l) => l.includes('[TimeZoneUnknown]'))).toContain(
      `${path}:11: ModelRoute app/chat: spec.rules[0].matches[0].timeWindows[0].timeZone: rule "batch-off-peak": "Europe/Berlinn" is not an IANA time zone`,
    );
    expect(r.err).toMatch(/FAILED: 2 error\(s\)/);
  });
});
