import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPath, loadManifests, parsePath } from './manifest-files.js';

function files(contents: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelroute-manifests-'));
  for (const [name, text] of Object.entries(contents)) writeFileSync(join(dir, name), text);
  return dir;
}

const backendYaml = `apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata:
  name: mini
spec:
  provider: openai
  endpoint: https://api.openai.com/v1
  model: gpt-4o-mini
`;

describe('loadManifests', () => {
  test('loads objects from every YAML file of a directory, applying defaults', () => {
    const dir = files({ 'a.yaml': backendYaml, 'notes.txt': 'not yaml' });
    const loaded = loadManifests([dir]);
    expect(loaded.errors).toEqual([]);
    expect(loaded.files).toEqual([join(dir, 'a.yaml')]);
    expect(loaded.backends[0]?.spec.capabilities).toEqual(['chat']);
  });

  test('places each error at its file and line, with the object and field path', () => {
    const dir = files({
      'b.yaml': `---\n# comment\n${backendYaml.replace('provider: openai', 'provider: open-ai')}`,
    });
    const { errors } = loadManifests([dir]);
    expect(errors).toEqual([
      {
        file: join(dir, 'b.yaml'),
        line: 8,
        object: 'ModelBackend default/mini',
        path: 'spec.provider',
        message: expect.stringMatching(/expected one of "openai".*\(got "open-ai"\)/),
      },
    ]);
  });

  test('a missing required field is located at its parent', () => {
    const dir = files({ 'c.yaml': backendYaml.replace('  model: gpt-4o-mini\n', '') });
    const [error] = loadManifests([dir]).errors;
    expect(error).toMatchObject({
      line: 6,
      path: 'spec.model',
      message: 'required field is missing',
    });
  });

  test('other kinds are passed over and listed; unknown kinds of our group are errors', () => {
    const dir = files({
      'd.yaml': `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n---\napiVersion: modelroute.io/v1alpha1\nkind: ModelRouter\nmetadata: {name: x}\n`,
    });
    const loaded = loadManifests([dir]);
    expect(loaded.ignored).toEqual([{ file: join(dir, 'd.yaml'), kind: 'Secret', name: 'creds' }]);
    expect(loaded.errors).toEqual([
      expect.objectContaining({
        line: 6,
        message: expect.stringMatching(
          /unknown kind "ModelRouter".*expected one of ModelRoute, ModelBackend, ModelTenant, ModelAPIKey, ModelBackendGrant$/,
        ),
      }),
    ]);
  });

  test('ModelTenant, ModelAPIKey and ModelBackendGrant are loaded and schema-checked like the others', () => {
    const dir = files({
      'i.yaml': `apiVersion: modelroute.io/v1alpha1
kind: ModelTenant
metadata: {name: acme}
spec: {priority: urgent}
---
apiVersion: modelroute.io/v1alpha1
kind: ModelAPIKey
metadata: {name: k}
spec: {tenant: acme, hash: "sha256:${'b'.repeat(64)}", prefix: mr-abcd}
---
apiVersion: modelroute.io/v1alpha1
kind: ModelBackendGrant
metadata: {name: g, namespace: platform}
spec: {from: [{namespace: team-a}]}
`,
    });
    const loaded = loadManifests([dir]);
    expect(loaded.apiKeys.map((k) => k.metadata.name)).toEqual(['k']);
    expect(loaded.grants.map((g) => g.metadata.namespace)).toEqual(['platform']);
    expect(loaded.tenants).toEqual([]);
    expect(loaded.errors).toEqual([
      expect.objectContaining({
        line: 4,
        object: 'ModelTenant default/acme',
        path: 'spec.priority',
      }),
    ]);
  });

  test('List objects (kubectl get -o yaml) are expanded', () => {
    const item = backendYaml
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')
      .replace(/^ {2}/, '- ');
    const dir = files({ 'e.yaml': `apiVersion: v1\nkind: List\nitems:\n${item}` });
    expect(loadManifests([dir]).backends.map((b) => b.metadata.name)).toEqual(['mini']);
  });

  test('YAML syntax errors are reported with their line', () => {
    const dir = files({ 'f.yaml': 'apiVersion: v1\nkind: [unclosed\n' });
    const [error] = loadManifests([dir]).errors;
    expect(error?.message).toMatch(/^YAML: /);
    expect(error?.line).toBeGreaterThan(0);
  });

  test('a path that does not exist is a clear error', () => {
    expect(() => loadManifests(['/no/such/dir'])).toThrow('cannot read /no/such/dir: ENOENT');
  });
});

test('field paths round-trip between text and parts', () => {
  expect(formatPath(['spec', 'rules', 0, 'backendRefs', 1, 'weight'])).toBe(
    'spec.rules[0].backendRefs[1].weight',
  );
  expect(parsePath('spec.rules[0].backendRefs[1].weight')).toEqual([
    'spec',
    'rules',
    0,
    'backendRefs',
    1,
    'weight',
  ]);
});
