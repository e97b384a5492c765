// Dataset-quality answers and the simulated judge, over HTTP as the proxy sees them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeRequestBody, parseJudgeVerdict } from '../learning/judge-protocol.js';
import { json, parseSse, post, type ChatChunk, type ChatCompletion } from './__fixtures__/http.js';
import { loadQualityData, qualityMarker, readQualityMarker } from './answers.js';
import { startSimulatedBackend, type SimulatedBackend, type SimulatorOptions } from './index.js';
import { simulatorOptions } from './options.js';

const dir = mkdtempSync(join(tmpdir(), 'sim-quality-'));
const CSV = join(dir, 'results.csv');
writeFileSync(
  CSV,
  'prompt,small,big\n' +
    'What is 2+2?,True,True\n' +
    '"Prove, step by step, that sqrt 2 is irrational",False,True\n' +
    'Name a colour,1,0\n',
);

const started: SimulatedBackend[] = [];
async function start(options: SimulatorOptions): Promise<SimulatedBackend> {
  const sim = await startSimulatedBackend(options);
  started.push(sim);
  return sim;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

const ask = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'm',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content },
  ],
  ...extra,
});

async function answerOf(sim: SimulatedBackend, body: Record<string, unknown>): Promise<string> {
  const res = await post(`${sim.url}/v1/chat/completions`, body);
  expect(res.status).toBe(200);
  return (await json<ChatCompletion>(res)).choices[0]?.message.content ?? '';
}

describe('markers', () => {
  test('write and read back', () => {
    expect(qualityMarker(1)).toBe('⟦q=1⟧');
    expect(readQualityMarker(`${qualityMarker(0.25)} some words`)).toBe(0.25);
    expect(readQualityMarker('no marker here')).toBeUndefined();
  });

  test('loadQualityData reads a column by name and says what is wrong', () => {
    expect(loadQualityData(CSV, 'big')).toEqual(
      new Map([
        ['What is 2+2?', 1],
        ['Prove, step by step, that sqrt 2 is irrational', 1],
        ['Name a colour', 0],
      ]),
    );
    expect(() => loadQualityData(CSV, 'huge')).toThrow(/no column "huge"/);
    expect(() => loadQualityData(join(dir, 'missing.csv'), 'big')).toThrow(
      /qualityData: cannot read/,
    );
  });
});

describe('dataset-quality mode', () => {
  test('answers a listed prompt with its recorded quality, others with the default', async () => {
    const small = await start({ qualityData: CSV, qualityColumn: 'small', outputTokens: 4 });
    const big = await start({ qualityData: CSV, qualityColumn: 'big', qualityDefault: 0 });
    const proof = 'Prove, step by step, that sqrt 2 is irrational';
    expect(readQualityMarker(await answerOf(small, ask(proof)))).toBe(0);
    expect(readQualityMarker(await answerOf(big, ask(proof)))).toBe(1);
    expect(readQualityMarker(await answerOf(small, ask('  Name a colour\n')))).toBe(1);
    expect(readQualityMarker(await answerOf(small, ask('unlisted')))).toBe(0.5);
    expect(readQualityMarker(await answerOf(big, ask('unlisted')))).toBe(0);
    // The marker leads the usual words; the token count still matches the words.
    const res = await post(`${small.url}/v1/chat/completions`, ask('What is 2+2?'));
    const body = await json<ChatCompletion>(res);
    expect(body.choices[0]?.message.content).toMatch(/^⟦q=1⟧ \S+ \S+ \S+ \S+$/);
    expect(body.usage.completion_tokens).toBe(4);
  });

  test('streams the same answer', async () => {
    const sim = await start({ qualityData: CSV, qualityColumn: 'big', outputTokens: 3 });
    const buffered = await answerOf(sim, ask('What is 2+2?'));
    const res = await post(`${sim.url}/v1/chat/completions`, ask('What is 2+2?', { stream: true }));
    const deltas = parseSse(await res.text())
      .filter((e) => e.data !== '[DONE]')
      .map((e) => (JSON.parse(e.data) as ChatChunk).choices[0]?.delta.content ?? '')
      .join('');
    expect(deltas).toBe(buffered);
  });

  test('Anthropic answers carry the marker too', async () => {
    const sim = await start({ qualityData: CSV, qualityColumn: 'small' });
    const res = await post(`${sim.url}/v1/messages`, ask('Name a colour', { max_tokens: 50 }), {
      'anthropic-version': '2023-06-01',
    });
    const body = await json<{ content: { text: string }[] }>(res);
    expect(readQualityMarker(body.content[0]?.text ?? '')).toBe(1);
  });
});

describe('judge mode', () => {
  const judgeBody = (a: string, b: string) => ({ model: 'judge', ...judgeRequestBody('q', a, b) });
  const verdict = async (sim: SimulatedBackend, a: string, b: string) =>
    parseJudgeVerdict(await answerOf(sim, judgeBody(a, b)));

  test('prefers the answer with the higher marker, in either position; equal ones tie', async () => {
    const judge = await start({ judge: true });
    const good = `${qualityMarker(1)} fine words`;
    const bad = `${qualityMarker(0)} other words`;
    expect(await verdict(judge, good, bad)).toBe('A');
    expect(await verdict(judge, bad, good)).toBe('B');
    expect(await verdict(judge, good, good)).toBe('tie');
    expect(await verdict(judge, 'no marker', good)).toBe('B');
  });

  test('a prompt that is not a judge prompt gets an answer without a verdict', async () => {
    const judge = await start({ judge: true });
    expect(parseJudgeVerdict(await answerOf(judge, ask('hello')))).toBeUndefined();
  });

  test('position bias says A for a seeded share of comparisons, the same share every run', async () => {
    const runs: (string | undefined)[][] = [];
    for (let run = 0; run < 2; run++) {
      const judge = await start({ judge: true, judgePositionBias: 0.5, seed: 7 });
      const verdicts: (string | undefined)[] = [];
      for (let i = 0; i < 40; i++)
        verdicts.push(await verdict(judge, `${qualityMarker(0)} x`, `${qualityMarker(1)} y`));
      runs.push(verdicts);
    }
    expect(runs[0]).toEqual(runs[1]);
    const biased = runs[0]?.filter((v) => v === 'A').length ?? 0;
    expect(biased).toBeGreaterThan(5);
    expect(biased).toBeLessThan(35);
    expect(runs[0]?.filter((v) => v !== 'A').every((v) => v === 'B')).toBe(true);
  });
});

describe('options', () => {
  test.each([
    [{ qualityData: CSV }, 'qualityColumn'],
    [{ qualityColumn: 'big' }, 'qualityData'],
    [{ judge: true, qualityData: CSV, qualityColumn: 'big' }, 'judge'],
    [{ judgePositionBias: 0.1 }, 'judgePositionBias'],
    [{ judge: true, judgePositionBias: 2 }, 'judgePositionBias'],
  ])('%j is refused at %s', (options, field) => {
    const parsed = simulatorOptions.safeParse(options);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path[0])).toContain(field);
  });
});
