// Rules that react to the clock and to load (issue 14): a planned peak sends
// traffic to a cheaper backend during its window, in the window's time zone
// by the proxy's (injected) clock; a load condition moves traffic to a
// cheaper backend while the strong one nears its quota; a backend slower than
// its latency objective keeps only its high-priority traffic.
import OpenAI from 'openai';
import { generateApiKey } from '../../src/identity/api-key.js';
import { apiKey, route, startDataPlane, tenant, type DataPlane } from '../support/data-plane.js';

let dp: DataPlane | undefined;
afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

async function served(
  d: DataPlane,
  client = d.client,
): Promise<{ rule: string | null; backend: string | null }> {
  const { response } = await client.chat.completions
    .create({ model: 'chat', messages: [{ role: 'user', content: 'Draft a reply.' }] })
    .withResponse();
  return {
    rule: response.headers.get('x-modelroute-rule'),
    backend: response.headers.get('x-modelroute-backend'),
  };
}

test('a timeWindows rule sends traffic to the cheaper backend during the window only', async () => {
  let clock = Date.parse('2026-12-03T13:59:00Z'); // Thursday 08:59 in New York
  dp = await startDataPlane(
    [
      { name: 'premium', spec: { pricing: { inputPerMillion: 10, outputPerMillion: 30 } } },
      { name: 'budget', spec: { pricing: { inputPerMillion: 0.15, outputPerMillion: 0.6 } } },
    ],
    [
      route('chat', {
        rules: [
          {
            name: 'business-hours-peak',
            matches: [
              {
                timeWindows: [
                  {
                    days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'],
                    start: '09:00',
                    end: '17:00',
                    timeZone: 'America/New_York',
                  },
                ],
              },
            ],
            backendRefs: [{ name: 'budget' }],
          },
          { name: 'off-peak', backendRefs: [{ name: 'premium' }] },
        ],
      }),
    ],
    { now: () => clock },
  );
  const d = dp;
  const offPeak = { rule: 'off-peak', backend: 'default/premium' };
  const peak = { rule: 'business-hours-peak', backend: 'default/budget' };

  expect(await served(d)).toEqual(offPeak);
  clock = Date.parse('2026-12-03T14:00:00Z'); // 09:00 New York: the window opens
  expect(await served(d)).toEqual(peak);
  clock = Date.parse('2026-12-03T21:59:00Z'); // 16:59
  expect(await served(d)).toEqual(peak);
  clock = Date.parse('2026-12-03T22:00:00Z'); // 17:00: closed
  expect(await served(d)).toEqual(offPeak);
  clock = Date.parse('2026-12-05T15:00:00Z'); // Saturday 10:00: not one of its days
  expect(await served(d)).toEqual(offPeak);
  expect(d.sims.budget!.requests).toHaveLength(2);
}, 20_000);

test('a load rule moves traffic to the cheaper backend while the strong one nears its quota', async () => {
  const RPM = 10;
  dp = await startDataPlane(
    [{ name: 'strong', spec: { limits: { rpm: RPM } } }, { name: 'mini' }],
    [
      route('chat', {
        rules: [
          {
            name: 'strong-is-busy',
            matches: [{ load: { backend: 'strong', above: 0.5 } }],
            backendRefs: [{ name: 'mini' }],
          },
          { name: 'normal', backendRefs: [{ name: 'strong' }] },
        ],
      }),
    ],
  );
  const d = dp;
  const answers = [];
  for (let i = 0; i < 8; i++) answers.push(await served(d));
  // The strong backend serves while its load is at most 0.5 (0.0 .. 0.5 before
  // each of its first six requests: "above" is strict); then mini.
  const strongCount = RPM / 2 + 1;
  expect(answers.map((a) => a.backend)).toEqual([
    ...Array.from({ length: strongCount }, () => 'default/strong'),
    ...Array.from({ length: 8 - strongCount }, () => 'default/mini'),
  ]);
  expect(answers[strongCount]?.rule).toBe('strong-is-busy');
}, 20_000);

test('a backend over its latency objective: low priority moves to the alternate, high stays', async () => {
  const LOW_KEY = generateApiKey(() => Buffer.alloc(32, 31));
  const HIGH_KEY = generateApiKey(() => Buffer.alloc(32, 32));
  dp = await startDataPlane(
    [
      // Every answer takes 150 ms against an objective of 50 ms; the quota itself is far away.
      {
        name: 'strong',
        spec: { limits: { rpm: 1000, latencyObjectiveMs: 50 } },
        simulator: { latencyMs: 150 },
      },
      { name: 'alternate' },
    ],
    [
      route('chat', {
        rules: [
          {
            name: 'strong-first',
            strategy: 'priority',
            backendRefs: [{ name: 'strong' }, { name: 'alternate' }],
          },
        ],
      }),
    ],
    {
      tableIdentity: {
        tenants: [
          tenant('batch', { priority: 'low' }),
          tenant('interactive', { priority: 'high' }),
        ],
        keys: [apiKey('k-low', LOW_KEY, 'batch'), apiKey('k-high', HIGH_KEY, 'interactive')],
      },
    },
  );
  const d = dp;
  const as = (key: string) =>
    new OpenAI({ baseURL: `${d.proxy.dataUrl}/v1`, apiKey: key, maxRetries: 0 });
  const low = as(LOW_KEY);
  const high = as(HIGH_KEY);
  // Before any latency is known, low is served by strong; that answer teaches the proxy its latency.
  expect((await served(d, low)).backend).toBe('default/strong');
  // With no higher class wanting strong, nothing is held back for anyone: low stays.
  expect((await served(d, low)).backend).toBe('default/strong');
  // Once a high-priority request wanted it, low leaves the slow backend to high.
  expect((await served(d, high)).backend).toBe('default/strong');
  for (let i = 0; i < 3; i++) {
    expect((await served(d, low)).backend).toBe('default/alternate');
    expect((await served(d, high)).backend).toBe('default/strong');
  }
}, 20_000);
