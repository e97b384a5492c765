// Cross-namespace backendRefs: only a ModelBackendGrant in the backend's
// namespace lets a route use it; without one the ref never reaches a table
// and checkSemantics says why (RefNotPermitted, with the grant to create).
import {
  modelBackendGrant,
  type ModelBackendGrant,
  type ModelBackendGrantSpec,
} from '../api/v1alpha1/index.js';
import { backend, route } from './__fixtures__/objects.js';
import { compileRoutingTable } from './compile.js';
import { GrantIndex } from './grants.js';
import { seededRandom } from './random.js';
import { checkSemantics } from './semantics.js';

function grant(namespace: string, spec: ModelBackendGrantSpec, name = 'apps'): ModelBackendGrant {
  return modelBackendGrant.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackendGrant',
    metadata: { name, namespace },
    spec,
  });
}

const shared = backend('gpt', {}, 'platform');
const other = backend('claude', {}, 'platform');
const local = backend('local', {}, 'team-a');
const chat = route(
  'chat',
  {
    rules: [
      {
        name: 'main',
        backendRefs: [{ name: 'gpt', namespace: 'platform' }, { name: 'local' }],
      },
    ],
    fallback: { backendRefs: [{ name: 'claude', namespace: 'platform' }] },
  },
  { namespace: 'team-a' },
);
const backends = [shared, other, local];
const backendIds = (grants: ModelBackendGrant[]) =>
  compileRoutingTable([chat], backends, new Map(), { grants }).backends.map((b) => b.id);

describe('cross-namespace backendRefs', () => {
  test('granted: the rule and fallback refs compile to the backends of the other namespace', () => {
    const table = compileRoutingTable([chat], backends, new Map(), {
      grants: [grant('platform', { from: [{ namespace: 'team-a' }] })],
    });
    expect(table.backends.map((b) => b.id)).toEqual([
      'platform/claude',
      'platform/gpt',
      'team-a/local',
    ]);
    expect(table.routes[0]?.rules[0]?.backends.map((b) => b.backendId)).toEqual([
      'platform/gpt',
      'team-a/local',
    ]);
    expect(table.routes[0]?.fallback.backendIds).toEqual(['platform/claude']);
    expect(table.backends.find((b) => b.id === 'platform/gpt')?.namespace).toBe('platform');
  });

  test('no grant: the refs are dropped and each is reported RefNotPermitted with the fix', () => {
    expect(backendIds([])).toEqual(['team-a/local']);
    const problems = checkSemantics([chat], backends);
    expect(problems.map((p) => [p.code, p.path])).toEqual([
      ['RefNotPermitted', 'spec.rules[0].backendRefs[0].name'],
      ['RefNotPermitted', 'spec.fallback.backendRefs[0].name'],
    ]);
    expect(problems[0]?.message).toContain('ModelBackend platform/gpt');
    expect(problems[0]?.message).toContain(
      'kubectl apply a ModelBackendGrant in namespace platform with spec.from: [{namespace: team-a}]',
    );
  });

  test('a grant for another namespace, or for another backend, does not let the ref through', () => {
    expect(backendIds([grant('platform', { from: [{ namespace: 'team-b' }] })])).toEqual([
      'team-a/local',
    ]);
    const onlyClaude = [
      grant('platform', { from: [{ namespace: 'team-a' }], backends: ['claude'] }),
    ];
    expect(backendIds(onlyClaude)).toEqual(['platform/claude', 'team-a/local']);
    expect(checkSemantics([chat], backends, onlyClaude).map((p) => p.path)).toEqual([
      'spec.rules[0].backendRefs[0].name',
    ]);
    // A grant in the route's own namespace grants nothing about the platform's backends.
    expect(backendIds([grant('team-a', { from: [{ namespace: 'team-a' }] })])).toEqual([
      'team-a/local',
    ]);
  });

  test('grant removed: the next compile drops the ref and the table version changes', () => {
    const granted = compileRoutingTable([chat], backends, new Map(), {
      grants: [grant('platform', { from: [{ namespace: 'team-a' }] })],
    });
    const revoked = compileRoutingTable([chat], backends, new Map(), { grants: [] });
    expect(revoked.backends.map((b) => b.id)).toEqual(['team-a/local']);
    expect(revoked.version).not.toBe(granted.version);
  });

  test('without a grant a missing backend is RefNotPermitted too, so existence does not leak', () => {
    const ghost = route(
      'ghost',
      { rules: [{ name: 'r', backendRefs: [{ name: 'nope', namespace: 'platform' }] }] },
      { namespace: 'team-a' },
    );
    expect(checkSemantics([ghost], backends).map((p) => p.code)).toEqual(['RefNotPermitted']);
    const granted = [grant('platform', { from: [{ namespace: 'team-a' }] })];
    expect(checkSemantics([ghost], backends, granted).map((p) => p.message)).toEqual([
      'ModelBackend "nope" not found in namespace platform',
    ]);
  });

  test('a ref naming its own namespace explicitly needs no grant', () => {
    const explicit = route(
      'explicit',
      { rules: [{ name: 'r', backendRefs: [{ name: 'local', namespace: 'team-a' }] }] },
      { namespace: 'team-a' },
    );
    expect(checkSemantics([explicit], backends)).toEqual([]);
    expect(compileRoutingTable([explicit], backends).backends.map((b) => b.id)).toEqual([
      'team-a/local',
    ]);
  });

  test('property: a table holds another namespace’s backend only when a grant allows it, and every refused ref is reported', () => {
    const rng = seededRandom(13);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
    const namespaces = ['p', 'q', 'a', 'b'];
    const names = ['x', 'y', 'z'];
    for (let i = 0; i < 300; i++) {
      const all = namespaces.flatMap((ns) =>
        names.filter(() => rng() < 0.7).map((n) => backend(n, {}, ns)),
      );
      const grants = namespaces.flatMap((ns, gi) => {
        const from = namespaces.filter(() => rng() < 0.4).map((namespace) => ({ namespace }));
        if (from.length === 0 || rng() < 0.3) return [];
        const only = rng() < 0.5 ? { backends: names.filter(() => rng() < 0.5) } : {};
        return [grant(ns, { from, ...only }, `g${gi}`)];
      });
      const routeNs = pick(namespaces);
      const refs = Array.from({ length: 1 + Math.floor(rng() * 4) }, () =>
        rng() < 0.5 ? { name: pick(names) } : { name: pick(names), namespace: pick(namespaces) },
      );
      // backendRefs are a list keyed by name (the schema's listMap): one ref per name.
      const unique = [...new Map(refs.map((r) => [r.name, r])).values()].map(
        (ref) => [`${ref.namespace ?? routeNs}/${ref.name}`, ref] as const,
      );
      const r = route(
        'r',
        { rules: [{ name: 'main', backendRefs: unique.map(([, ref]) => ref) }] },
        { namespace: routeNs },
      );
      const index = new GrantIndex(grants);
      const table = compileRoutingTable([r], all, new Map(), { grants });
      for (const b of table.backends) {
        if (b.namespace !== routeNs)
          expect(index.grantFor(routeNs, b.namespace, b.name)).toBeDefined();
      }
      const refused = checkSemantics([r], all, grants).filter((p) => p.code === 'RefNotPermitted');
      const expected = unique.filter(([, ref]) => !index.permits(routeNs, ref));
      expect(refused).toHaveLength(expected.length);
      const compiledIds = new Set(table.backends.map((b) => b.id));
      for (const [id] of expected) expect(compiledIds.has(id)).toBe(false);
    }
  });
});
