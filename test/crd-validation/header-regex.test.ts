// The real API server (CEL's matches(), Go's RE2) accepts exactly the header
// patterns that the schema, and so the controller, `validate` and the proxy
// (re2js), accept: otherwise a route the API server stores would be dropped
// from every table, or one the proxy could run would be refused.
import { stringify } from 'yaml';
import { modelRoute } from '../../src/api/v1alpha1/index.js';
import {
  FIXED_PATTERNS,
  randomPattern,
} from '../../src/routing/__fixtures__/header-regex-corpus.js';
import { seededRandom } from '../../src/routing/random.js';
import { createNamespace, installCRDs, kubectl } from '../support/cluster.js';

let namespace: string;
beforeAll(() => {
  installCRDs();
  namespace = createNamespace('header-regex');
});

function routeWith(name: string, pattern: string) {
  return {
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name },
    spec: {
      model: name,
      rules: [
        {
          name: 'r',
          matches: [{ headers: [{ name: 'x-v', type: 'RegularExpression', value: pattern }] }],
          backendRefs: [{ name: 'b' }],
        },
      ],
    },
  };
}

test('the API server accepts exactly the patterns the schema accepts', () => {
  const rng = seededRandom(21);
  const patterns = [...FIXED_PATTERNS, ...Array.from({ length: 150 }, () => randomPattern(rng))];
  const objects = patterns.map((p, i) => routeWith(`re-${i}`, p));
  const applied = kubectl(
    ['apply', '--dry-run=server', '-n', namespace, '-f', '-'],
    objects.map((o) => stringify(o)).join('---\n'),
  );
  const disagreements: { pattern: string; apiServer: boolean; schema: boolean }[] = [];
  let accepted = 0;
  patterns.forEach((pattern, i) => {
    const apiServer = applied.stdout.includes(`modelroute.modelroute.io/re-${i} created`);
    const refused = applied.stderr.includes(`"re-${i}" is invalid`);
    expect({ pattern, answered: apiServer !== refused }).toEqual({ pattern, answered: true });
    const schema = modelRoute.safeParse(objects[i]).success;
    if (apiServer) accepted++;
    if (apiServer !== schema) disagreements.push({ pattern, apiServer, schema });
  });
  expect(disagreements).toEqual([]);
  // Both sides of the line are exercised.
  expect(accepted).toBeGreaterThan(30);
  expect(patterns.length - accepted).toBeGreaterThan(30);
});
