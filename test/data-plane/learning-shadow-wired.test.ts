// The proxy's learning loop as startProxy wires it (issue 17): a learning
// rule's requests get tickets in the inference handler, sampled ones go to
// the default shadow judge (proxyShadowJudge) once the client has its
// answer, and the pairwise labels and costs reach /admin/v1/stats. The
// backends answer with the quality a data set records for each prompt; the
// simulated judge compares answers by it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { proxyLearningStats, type ProxyLearningStats } from '../../src/learning/wire.js';
import { ruleKey } from '../../src/routing/table.js';
import {
  ADMIN_TOKEN,
  route,
  startDataPlane,
  judgedBackends,
  type DataPlane,
} from '../support/data-plane.js';
import { eventually } from '../support/eventually.js';

const OUTCOMES = [
  { prompt: 'Prove that there are infinitely many primes.', weak: 0, strong: 1, gain: 1 },
  { prompt: 'Translate "good night" to German.', weak: 1, strong: 0, gain: -1 },
];
const dir = mkdtempSync(join(tmpdir(), 'learning-wired-'));
const CSV = join(dir, 'outcomes.csv');
writeFileSync(
  CSV,
  'prompt,weak,strong\n' +
    OUTCOMES.map((o) => `"${o.prompt.replace(/"/g, '""')}",${o.weak},${o.strong}`).join('\n'),
);
const RULE = ruleKey('default/assistant', 'learn');

let dp: DataPlane;
beforeAll(async () => {
  dp = await startDataPlane(
    [...judgedBackends(CSV)],
    [
      route('assistant', {
        rules: [
          {
            name: 'learn',
            strategy: 'cost-quality',
            // Every prompt here scores below 0.99: the cheap tier serves, the strong one is the shadow.
            costQuality: {
              threshold: 0.99,
              learning: { sampleRate: 1, judgeRef: { name: 'judge' }, maxShadowCostPerDay: 5 },
            },
            backendRefs: [{ name: 'weak' }, { name: 'strong' }],
          },
        ],
      }),
    ],
  );
});
afterAll(() => dp.close());

/** The stats' bytes, as the controller reads them. */
let lastStatsText = '';
async function learningStats(): Promise<ProxyLearningStats> {
  const res = await fetch(`${dp.proxy.adminUrl}/admin/v1/stats`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  lastStatsText = await res.text();
  return proxyLearningStats.parse((JSON.parse(lastStatsText) as { learning: unknown }).learning);
}

test('sampled requests are judged behind the client’s back and labelled with how much the strong tier helped', async () => {
  const answers: string[] = [];
  for (const { prompt } of OUTCOMES) {
    const { data, response } = await dp.client.chat.completions
      .create({ model: 'assistant', messages: [{ role: 'user', content: prompt }] })
      .withResponse();
    expect(response.headers.get('x-modelroute-tier')).toBe('cheap');
    expect(response.headers.get('x-modelroute-model-version')).toBe('0');
    answers.push(data.choices[0]?.message.content ?? '');
  }
  let learning: ProxyLearningStats | undefined;
  await eventually(async () => {
    learning = await learningStats();
    expect(learning.labels).toHaveLength(OUTCOMES.length);
  });
  if (!learning) throw new Error('no stats');
  const gains = learning.labels.map((l) => (l.outcome.kind === 'pairwise' ? l.outcome.gain : NaN));
  expect(gains.sort()).toEqual(OUTCOMES.map((o) => o.gain).sort());
  expect(learning.rules[RULE]).toMatchObject({
    sampled: 2,
    shadowCalls: 2,
    judgeCalls: 4,
    judgeFailures: 0,
    labels: 2,
  });
  expect(learning.rules[RULE]?.costUsd).toBeGreaterThan(0);
  // Judged or not, what the proxy reports holds no text of the prompts or of the answers.
  for (const text of [...OUTCOMES.map((o) => o.prompt), ...answers]) {
    expect(text.length).toBeGreaterThanOrEqual(8);
    for (let i = 0; i + 8 <= text.length; i++)
      if (lastStatsText.includes(text.slice(i, i + 8)))
        throw new Error(`admin stats contain ${JSON.stringify(text.slice(i, i + 8))}`);
  }
});
