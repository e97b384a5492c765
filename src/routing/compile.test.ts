import { readFileSync } from 'node:fs';
import type { DifficultyModelFileV2 } from './difficulty/learned/model.js';
import { backend, route } from './__fixtures__/objects.js';
import { priorQuantile } from './difficulty/calibration/prior.js';
import { compileRoutingTable, resolveBaseUrl } from './compile.js';
import { checkSemantics, oneTableConflicts } from './semantics.js';
import { TABLE_FORMAT_VERSION, parseRoutingTable, ruleKey } from './table.js';

const a = backend('a', {
  pricing: { inputPerMillion: 1, outputPerMillion: 2 },
  secretRef: { name: 'creds' },
});
const b = backend('b', { timeouts: { connect: '2s', firstToken: '1m30s' } });
const chat = route('chat', {
  rules: [{ name: 'r', backendRefs: [{ name: 'a', weight: 3 }, { name: 'b' }] }],
  retries: { attempts: 4, backoff: '250ms' },
  timeouts: { total: '2m' },
  budget: { maxCostPerRequest: 0.5 },
});

describe('compileRoutingTable', () => {
  test('produces a table that passes its own validation, with the format and a content hash', () => {
    const table = compileRoutingTable([chat], [a, b]);
    expect(table.formatVersion).toBe(TABLE_FORMAT_VERSION);
    expect(table.version).toMatch(/^sha256:[0-9a-f]{20}$/);
    const parsed = parseRoutingTable(JSON.parse(JSON.stringify(table)));
    expect(parsed.ok && parsed.table).toEqual(table);
  });

  test('compiles durations, defaults, prices and credentials references', () => {
    const table = compileRoutingTable([chat], [a, b]);
    const [route0] = table.routes;
    expect(route0).toMatchObject({
      id: 'default/chat',
      model: 'chat',
      retries: { attempts: 4, backoffMs: 250, maxBackoffMs: 2000 },
      timeouts: { totalMs: 120_000 },
      budget: { maxCostPerRequestUsd: 0.5 },
    });
    expect(route0?.rules[0]?.backends).toEqual([
      { backendId: 'default/a', weight: 3, priority: 0 },
      { backendId: 'default/b', weight: 1, priority: 0 },
    ]);
    const [ca, cb] = table.backends;
    expect(ca).toMatchObject({
      credentials: { secretName: 'creds', key: 'apiKey' },
      pricing: { inputPerMillion: 1, outputPerMillion: 2, cachedInputPerMillion: 1 },
      timeouts: { connectMs: 5000, firstTokenMs: 60_000, totalMs: 300_000 },
      health: 'Unknown',
    });
    expect(cb?.timeouts).toEqual({ connectMs: 2000, firstTokenMs: 90_000, totalMs: 300_000 });
  });

  test("cache writes default to Anthropic's rate for Claude backends (also on Bedrock and Vertex), the input rate otherwise", () => {
    const priced = (
      provider: 'anthropic' | 'anthropic-vertex' | 'anthropic-bedrock' | 'openai',
      extra = {},
    ) =>
      compileRoutingTable([chat], [
        { ...a, spec: { ...a.spec, provider, pricing: { inputPerMillion: 3, ...extra } } },
        b,
      ] as (typeof a)[]).backends[0]?.pricing.cacheWriteInputPerMillion;
    expect(priced('anthropic')).toBe(3.75);
    expect(priced('anthropic-vertex')).toBe(3.75);
    expect(priced('anthropic-bedrock')).toBe(3.75);
    expect(priced('openai')).toBe(3);
    expect(priced('anthropic', { cacheWriteInputPerMillion: 6 })).toBe(6);
  });

  test('the version depends on content only, not on input order', () => {
    const other = route('other', { rules: [{ name: 'r', backendRefs: [{ name: 'b' }] }] });
    const one = compileRoutingTable([chat, other], [a, b]);
    const two = compileRoutingTable([other, chat], [b, a]);
    expect(two).toEqual(one);
    const changed = compileRoutingTable(
      [chat, other],
      [a, b],
      new Map([['default/a', 'Unhealthy']]),
    );
    expect(changed.version).not.toBe(one.version);
  });

  test('only backends some route uses are included', () => {
    const unused = backend('unused');
    const table = compileRoutingTable([chat], [a, b, unused]);
    expect(table.backends.map((x) => x.name)).toEqual(['a', 'b']);
  });

  test('serviceRef resolves to the cluster DNS name', () => {
    const svc = backend(
      'svc',
      { endpoint: undefined, serviceRef: { name: 'vllm', port: 8000 } },
      'models',
    );
    expect(resolveBaseUrl(svc)).toBe('http://vllm.models.svc.cluster.local:8000/v1');
    expect(resolveBaseUrl(backend('e', { endpoint: 'https://api.example.com/v1/' }))).toBe(
      'https://api.example.com/v1',
    );
  });

  test('missing backend references are dropped and reported', () => {
    const r = route('chat', {
      rules: [{ name: 'r', backendRefs: [{ name: 'a' }, { name: 'ghost' }] }],
    });
    const table = compileRoutingTable([r], [a]);
    expect(table.routes[0]?.rules[0]?.backends.map((x) => x.backendId)).toEqual(['default/a']);
    expect(checkSemantics([r], [a])).toEqual([
      expect.objectContaining({
        code: 'BackendNotFound',
        path: 'spec.rules[0].backendRefs[1].name',
      }),
    ]);
  });

  test('a model name claimed twice stays with the older route', () => {
    const old = route(
      'old',
      { model: 'chat', rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] },
      { creationTimestamp: '2026-01-01T00:00:00Z' },
    );
    const young = route(
      'young',
      { model: 'chat', rules: [{ name: 'r', backendRefs: [{ name: 'b' }] }] },
      { creationTimestamp: '2026-02-01T00:00:00Z' },
    );
    const table = compileRoutingTable([young, old], [a, b]);
    expect(table.routes.map((r) => r.id)).toEqual(['default/old']);
    expect(checkSemantics([young, old], [a, b])).toEqual([
      expect.objectContaining({
        code: 'ModelConflict',
        object: { kind: 'ModelRoute', namespace: 'default', name: 'young' },
      }),
    ]);
  });

  test('routes in different namespaces sharing a model name: one table holds the oldest claim only', () => {
    const x = route(
      'chat',
      { rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] },
      { namespace: 'team-x' },
    );
    const y = route(
      'chat',
      { rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] },
      { namespace: 'team-y' },
    );
    const table = compileRoutingTable(
      [x, y],
      [backend('a', {}, 'team-x'), backend('a', {}, 'team-y')],
    );
    // A proxy looks a model name up without a namespace (prepared-table.ts).
    expect(table.routes.map((r) => r.id)).toEqual(['team-x/chat']);
    expect(table.backends.map((r) => r.id)).toEqual(['team-x/a']);
  });
});

describe('strongShare thresholds', () => {
  const weak = backend('weak', { quality: 0.5 });
  const strong = backend('strong', { quality: 0.9 });
  const tiered = route('tiered', {
    rules: [
      {
        name: 'share',
        strategy: 'cost-quality',
        costQuality: { strongShare: 0.2 },
        backendRefs: [{ name: 'weak' }, { name: 'strong' }],
      },
      {
        name: 'fixed',
        strategy: 'cost-quality',
        costQuality: { threshold: 0.6 },
        backendRefs: [{ name: 'weak' }, { name: 'strong' }],
      },
    ],
  });

  test('the prior until the fleet has a live threshold; then the live one, keyed by ruleKey', () => {
    const prior = compileRoutingTable([tiered], [weak, strong]);
    expect(prior.routes[0]?.rules.map((r) => [r.threshold, r.strongShare])).toEqual([
      [expect.closeTo(priorQuantile(0.8)), 0.2],
      [0.6, undefined],
    ]);
    const live = compileRoutingTable([tiered], [weak, strong], new Map(), {
      liveThresholds: new Map([
        [ruleKey('default/tiered', 'share'), 0.413],
        // An explicit threshold keeps working as declared, whatever the fleet says.
        [ruleKey('default/tiered', 'fixed'), 0.1],
      ]),
    });
    expect(live.routes[0]?.rules.map((r) => [r.threshold, r.strongShare])).toEqual([
      [0.413, 0.2],
      [0.6, undefined],
    ]);
    expect(live.version).not.toBe(prior.version);
    const reparsed = parseRoutingTable(JSON.parse(JSON.stringify(live)));
    expect(reparsed.ok && reparsed.table).toEqual(live);
  });
});

describe('checkSemantics', () => {
  test('reports missing fallback routes, cycles and cost-quality backends without quality', () => {
    const x = route('x', {
      rules: [{ name: 'r', strategy: 'cost-quality', backendRefs: [{ name: 'a' }, { name: 'b' }] }],
      fallback: { model: 'y' },
    });
    const y = route('y', {
      rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }],
      fallback: { model: 'x' },
    });
    const z = route('z', {
      rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }],
      fallback: { model: 'nowhere' },
    });
    const codes = checkSemantics([x, y, z], [a, backend('b', { quality: 0.9 })]).map(
      (p) => `${p.object.name}:${p.code}:${p.path}`,
    );
    expect(codes.sort()).toEqual([
      'x:FallbackCycle:spec.fallback.model',
      'x:QualityMissing:spec.rules[0].backendRefs[0].name',
      'y:FallbackCycle:spec.fallback.model',
      'z:FallbackRouteNotFound:spec.fallback.model',
    ]);
  });

  test('a load condition must name a backend the route uses, and says which it may name', () => {
    const r = route('x', {
      rules: [
        {
          name: 'shed',
          matches: [
            { load: { backend: 'a', above: 0.8 } },
            { load: { backend: 'b', above: 0.8 } },
            { load: { backend: 'a', namespace: 'other', above: 0.8 } },
          ],
          backendRefs: [{ name: 'a' }],
        },
      ],
    });
    const problems = checkSemantics([r], [a, b]);
    expect(problems.map((p) => `${p.code}:${p.path}`)).toEqual([
      'LoadBackendNotReferenced:spec.rules[0].matches[1].load.backend',
      'LoadBackendNotReferenced:spec.rules[0].matches[2].load.backend',
    ]);
    expect(problems[0]?.message).toBe(
      `rule "shed" matches on the load of ModelBackend default/b, which this route does not use, so no proxy serving it tracks that load; name one of its backends (default/a) or add default/b to a rule's or the fallback's backendRefs`,
    );
    // Not Accepted: a condition that can never hold is left out of every table.
    expect(compileRoutingTable([r], [a, b]).routes).toEqual([]);
    // A fallback backend counts as used.
    const viaFallback = route('y', {
      rules: [
        {
          name: 'r',
          matches: [{ load: { backend: 'b', above: 0.5 } }],
          backendRefs: [{ name: 'a' }],
        },
      ],
      fallback: { backendRefs: [{ name: 'b' }] },
    });
    expect(checkSemantics([viaFallback], [a, b])).toEqual([]);
  });

  test('an unknown time zone is an error with the field and, when close, the right name', () => {
    const r = route('x', {
      rules: [
        {
          name: 'peak',
          matches: [
            {
              timeWindows: [
                { start: '09:00', end: '17:00', timeZone: 'Europe/Berlin' },
                { start: '09:00', end: '17:00', timeZone: 'america/new york' },
                { start: '09:00', end: '17:00', timeZone: 'Mars/Olympus_Mons' },
              ],
            },
          ],
          backendRefs: [{ name: 'a' }],
        },
      ],
    });
    const problems = checkSemantics([r], [a]);
    expect(problems.map((p) => `${p.code}:${p.path}: ${p.message}`)).toEqual([
      `TimeZoneUnknown:spec.rules[0].matches[0].timeWindows[1].timeZone: rule "peak": "america/new york" is not an IANA time zone; did you mean "America/New_York"?; use a name from the tz database such as "UTC", "Europe/Berlin" or "America/New_York"`,
      `TimeZoneUnknown:spec.rules[0].matches[0].timeWindows[2].timeZone: rule "peak": "Mars/Olympus_Mons" is not an IANA time zone; use a name from the tz database such as "UTC", "Europe/Berlin" or "America/New_York"`,
    ]);
    expect(compileRoutingTable([r], [a]).routes).toEqual([]);
  });

  test('valid load and time conditions compile into the table as written', () => {
    const match = {
      load: { backend: 'a', above: 0.8 },
      timeWindows: [
        { days: ['Sat' as const], start: '22:00', end: '02:00', timeZone: 'Asia/Kolkata' },
      ],
      budgetExceeded: true,
    };
    const r = route('x', {
      rules: [{ name: 'r', matches: [match], backendRefs: [{ name: 'a' }] }],
    });
    expect(checkSemantics([r], [a])).toEqual([]);
    const table = compileRoutingTable([r], [a]);
    expect(table.routes[0]?.rules[0]?.matches).toEqual([match]);
    expect(parseRoutingTable(JSON.parse(JSON.stringify(table))).ok).toBe(true);
  });

  test('reports objects defined twice', () => {
    expect(checkSemantics([], [a, a]).map((p) => p.code)).toEqual(['DuplicateObject']);
  });
});

describe('parseRoutingTable', () => {
  const table = compileRoutingTable([chat], [a, b]);

  test('refuses a table whose version does not match its content', () => {
    const tampered = JSON.parse(JSON.stringify(table)) as typeof table;
    tampered.backends[0]!.baseUrl = 'http://evil.example';
    const result = parseRoutingTable(tampered);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/does not match its content/);
  });

  test('refuses another format version with advice', () => {
    const result = parseRoutingTable({ ...table, formatVersion: 3 });
    expect(!result.ok && result.error).toMatch(
      /format 3 is not supported.*reads formats 1, 2.*upgrade the proxy/,
    );
  });

  test('refuses dangling references and bad shapes, naming the field', () => {
    const broken = JSON.parse(JSON.stringify(table)) as typeof table;
    broken.backends = broken.backends.slice(1);
    const result = parseRoutingTable(broken);
    expect(!result.ok && result.error).toMatch(
      /routes\.0\.rules\.0\.backends\.0\.backendId: .*default\/a/,
    );
    const bad = parseRoutingTable({ formatVersion: 1, version: 'x', routes: 'nope', backends: [] });
    expect(!bad.ok && bad.error).toMatch(/invalid routing table: version: .*routes: /);
  });
});

describe('issue 11 class 12: a table holds each model name once', () => {
  const ns = (namespace: string, model: string, created: string, aliases: string[] = []) =>
    route(
      `${model}-${namespace}`,
      { model, aliases, rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] },
      { namespace, creationTimestamp: created },
    );
  const aIn = (namespace: string) => backend('a', {}, namespace);

  test('routes of several namespaces in one table: the oldest claim keeps a name', () => {
    const older = ns('team-b', 'chat', '2026-01-01T00:00:00Z', ['assistant']);
    const newer = ns('team-a', 'chat', '2026-02-01T00:00:00Z');
    const aliasOnly = ns('team-c', 'other', '2026-03-01T00:00:00Z', ['assistant', 'spare']);
    const table = compileRoutingTable(
      [newer, older, aliasOnly],
      [aIn('team-a'), aIn('team-b'), aIn('team-c')],
    );
    expect(table.routes.map((r) => [r.id, r.model, r.aliases])).toEqual([
      ['team-b/chat-team-b', 'chat', ['assistant']],
      ['team-c/other-team-c', 'other', ['spare']],
    ]);
    expect(parseRoutingTable(JSON.parse(JSON.stringify(table))).ok).toBe(true);
  });

  test('a pushed table naming one model twice is refused, saying which routes', () => {
    const table = compileRoutingTable([chat], [a, b]);
    const twice = JSON.parse(JSON.stringify(table)) as typeof table;
    twice.routes.push({ ...twice.routes[0]!, id: 'default/copy', name: 'copy', aliases: [] });
    const result = parseRoutingTable(twice);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(
      /model name "chat" is served by both route default\/chat and route default\/copy/,
    );
  });

  test('property: whatever routes of whatever namespaces compile into a table the proxy accepts', () => {
    let seed = 12;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const names = ['chat', 'code', 'embed', 'fast', 'smart'];
    const pick = () => names[Math.floor(random() * names.length)]!;
    for (let run = 0; run < 200; run++) {
      const routes = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, i) => {
        const model = pick();
        const aliases = [...new Set([pick(), pick()])].filter((x) => x !== model);
        return route(
          `r${i}`,
          { model, aliases, rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] },
          {
            namespace: `ns${Math.floor(random() * 3)}`,
            creationTimestamp: `2026-01-0${1 + Math.floor(random() * 9)}T00:00:00Z`,
          },
        );
      });
      const table = compileRoutingTable(routes, ['ns0', 'ns1', 'ns2'].map(aIn));
      const parsed = parseRoutingTable(JSON.parse(JSON.stringify(table)));
      expect(parsed.ok && parsed.table).toEqual(table);
    }
  });
});

test('local mode is told which routes of different namespaces claim one model name', () => {
  const r = (namespace: string, model: string, created: string) =>
    route(
      model,
      { model, rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] },
      { namespace, creationTimestamp: created },
    );
  expect(
    oneTableConflicts([
      r('b', 'chat', '2026-02-01T00:00:00Z'),
      r('a', 'chat', '2026-01-01T00:00:00Z'),
      r('a', 'code', '2026-01-01T00:00:00Z'),
    ]),
  ).toEqual([
    expect.objectContaining({
      code: 'ModelConflict',
      object: { kind: 'ModelRoute', namespace: 'b', name: 'chat' },
      path: 'spec.model',
    }),
  ]);
});

describe('costQuality.learning', () => {
  const cheap = backend('cheap', { quality: 0.3 });
  const strong = backend('strong', { quality: 0.9 });
  const judge = backend('judge');
  const learningRoute = (learning: Record<string, unknown>) =>
    route('chat', {
      rules: [
        {
          name: 'smart',
          strategy: 'cost-quality',
          costQuality: { strongShare: 0.2, learning },
          backendRefs: [{ name: 'cheap' }, { name: 'strong' }],
        },
      ],
    });

  test('compiles the settings, puts the judge in the table and carries the rule model', () => {
    const file = JSON.parse(
      readFileSync(new URL('./difficulty/learned/model-v2.json', import.meta.url), 'utf8'),
    ) as DifficultyModelFileV2;
    const table = compileRoutingTable(
      [learningRoute({ sampleRate: 0.05, judgeRef: { name: 'judge' }, feedbackWindow: '5m' })],
      [cheap, strong, judge],
      new Map(),
      { learnedModels: new Map([[ruleKey('default/chat', 'smart'), { version: 3, file }]]) },
    );
    expect(table.routes[0]?.rules[0]?.learning).toEqual({
      sampleRate: 0.05,
      judgeBackendId: 'default/judge',
      maxShadowCostPerDayUsd: 1,
      feedbackWindowMs: 300_000,
      model: { version: 3, file },
    });
    expect(table.backends.map((b) => b.name)).toEqual(['cheap', 'judge', 'strong']);
    const parsed = parseRoutingTable(JSON.parse(JSON.stringify(table)));
    expect(parsed.ok && parsed.table).toEqual(table);
  });

  test('a judge that does not resolve means feedback only, and is reported', () => {
    const r = learningRoute({ sampleRate: 0.05, judgeRef: { name: 'ghost' } });
    const table = compileRoutingTable([r], [cheap, strong]);
    expect(table.routes[0]?.rules[0]?.learning).toEqual({
      sampleRate: 0,
      maxShadowCostPerDayUsd: 1,
      feedbackWindowMs: 900_000,
    });
    expect(checkSemantics([r], [cheap, strong])).toEqual([
      expect.objectContaining({
        code: 'BackendNotFound',
        path: 'spec.rules[0].costQuality.learning.judgeRef.name',
      }),
    ]);
  });
});
