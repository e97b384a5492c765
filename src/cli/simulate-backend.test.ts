// `modelroute simulate-backend`: flag validation, startup line, serving, shutdown.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeRequestBody, parseJudgeVerdict } from '../learning/judge-protocol.js';
import { parseServiceAccountKey, signServiceAccountAssertion } from '../providers/auth/google.js';
import { signRequest } from '../providers/shared/sigv4.js';
import { simulatedServiceAccountKey } from '../simulator/index.js';
import { runSimulateBackend } from './simulate-backend.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

describe('modelroute simulate-backend', () => {
  test('a bad duration returns 2 with a message naming --latency', async () => {
    const t = io();
    expect(await runSimulateBackend(['--port', '0', '--latency', 'abc'], t.io)).toBe(2);
    expect(t.err.join('\n')).toMatch(/--latency.*duration/);
    expect(t.out).toEqual([]);
  });

  test.each([
    [['--error-rate', '2'], '--error-rate'],
    [['--error-rate', 'lots'], '--error-rate'],
    [['--port', '70000'], '--port'],
    [['--status-sequence', '500,x'], '--status-sequence'],
    [['--status-sequence', '500,302'], '--status-sequence'],
    [['--output-tokens', '1.5'], '--output-tokens'],
    [['--stall', 'never'], '--stall'],
    [['--require-api-key-env', 'MODELROUTE_SIM_TEST_UNSET_VAR'], '--require-api-key-env'],
    [['--quality-data', 'results.csv'], '--quality-column'],
    [['--quality-column', 'big'], '--quality-data'],
    [['--judge', '--judge-bias', '2'], '--judge-bias'],
    [['--judge-bias', '0.1'], '--judge-bias'],
    [['--judge', '--quality-data', 'r.csv', '--quality-column', 'big'], '--judge'],
    [['--quality-default', 'high'], '--quality-default'],
    [['--aws-keys-env', 'MODELROUTE_SIM_TEST_UNSET_VAR'], '--aws-keys-env'],
    [['--google-key', '/nonexistent/key.json'], '--google-key'],
  ])('bad input %j returns 2 naming %s', async (args, flag) => {
    const t = io();
    expect(await runSimulateBackend(args, t.io)).toBe(2);
    expect(t.err.join('\n')).toContain(flag);
  });

  test('a --quality-data file that cannot be read returns 1 naming it', async () => {
    const t = io();
    const args = ['--quality-data', '/nonexistent/results.csv', '--quality-column', 'big'];
    expect(await runSimulateBackend(args, t.io)).toBe(1);
    expect(t.err.join('\n')).toMatch(
      /cannot start: qualityData: cannot read \/nonexistent\/results\.csv/,
    );
  });

  test("--judge serves pairwise verdicts by the answers' quality markers", async () => {
    const t = io();
    const stop = new AbortController();
    const running = runSimulateBackend(['--judge', '--judge-bias', '0'], t.io, stop.signal);
    try {
      while (t.out.length === 0 && t.err.length === 0) await new Promise((r) => setTimeout(r, 5));
      const { url } = JSON.parse(t.out[0] as string) as { url: string };
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'j', ...judgeRequestBody('q', '⟦q=0⟧ a', '⟦q=1⟧ b') }),
      });
      const answer = (await res.json()) as { choices: { message: { content: string } }[] };
      expect(parseJudgeVerdict(answer.choices[0]?.message.content ?? '')).toBe('B');
    } finally {
      stop.abort();
    }
    expect(await running).toBe(0);
  });

  test('an unknown flag returns 2 with the usage', async () => {
    const t = io();
    expect(await runSimulateBackend(['--bogus'], t.io)).toBe(2);
    expect(t.err.join('\n')).toMatch(/usage: modelroute simulate-backend/);
  });

  test('--help prints the usage and returns 0', async () => {
    const t = io();
    expect(await runSimulateBackend(['-h'], t.io)).toBe(0);
    expect(t.out.join('\n')).toMatch(/--status-sequence/);
  });

  test('prints one JSON line with url and models, serves until stopped, then returns 0', async () => {
    process.env.MODELROUTE_SIM_TEST_KEY = 'sk-from-env';
    const t = io();
    const stop = new AbortController();
    const running = runSimulateBackend(
      [
        '--port',
        '0',
        '--model',
        'a',
        '--model',
        'b',
        '--output-tokens',
        '3',
        '--stall',
        '0',
        '--ttft',
        '10ms',
        '--status-sequence',
        '503,200',
        '--retry-after',
        '2',
        '--require-api-key-env',
        'MODELROUTE_SIM_TEST_KEY',
      ],
      t.io,
      stop.signal,
    );
    try {
      while (t.out.length === 0 && t.err.length === 0) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(t.err).toEqual([]);
      expect(t.out).toHaveLength(1);
      const started = JSON.parse(t.out[0] as string) as { url: string; models: string[] };
      expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(started.models).toEqual(['a', 'b']);
      expect(t.out[0]).not.toContain('sk-from-env');

      const send = () =>
        fetch(`${started.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-from-env' },
          body: JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'hi' }] }),
        });
      const first = await send();
      expect(first.status).toBe(503);
      expect(first.headers.get('retry-after')).toBe('2');
      await first.text();
      const second = await send();
      const answer = (await second.json()) as { usage: { completion_tokens: number } };
      expect(answer.usage.completion_tokens).toBe(3);
    } finally {
      stop.abort();
      delete process.env.MODELROUTE_SIM_TEST_KEY;
    }
    expect(await running).toBe(0);
  });

  test('--google-key: Vertex AI calls need a token from that service account', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelroute-sim-google-'));
    const { keyJson } = simulatedServiceAccountKey('http://placeholder');
    writeFileSync(join(dir, 'key.json'), keyJson);
    const t = io();
    const stop = new AbortController();
    const running = runSimulateBackend(['--google-key', join(dir, 'key.json')], t.io, stop.signal);
    try {
      while (t.out.length === 0 && t.err.length === 0) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(t.err).toEqual([]);
      const { url } = JSON.parse(t.out[0] as string) as { url: string };
      const key = parseServiceAccountKey(
        JSON.stringify({ ...(JSON.parse(keyJson) as object), token_uri: `${url}/token` }),
        'key.json',
      );
      const tokenRes = await fetch(`${url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion: signServiceAccountAssertion(key, Date.now()),
        }).toString(),
      });
      const { access_token: token } = (await tokenRes.json()) as { access_token: string };
      const path = `${url}/v1/projects/p/locations/us-central1/publishers/google/models/g:generateContent`;
      const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
      const headers = { 'content-type': 'application/json' };
      expect((await fetch(path, { method: 'POST', headers, body })).status).toBe(401);
      const ok = await fetch(path, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${token}` },
        body,
      });
      expect(ok.status).toBe(200);
    } finally {
      stop.abort();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await running).toBe(0);
  });

  test('--aws-keys-env: Bedrock calls must be signed with that key', async () => {
    process.env.MODELROUTE_SIM_TEST_AWS_ID = 'AKIASIMCLI';
    process.env.MODELROUTE_SIM_TEST_AWS_SECRET = 'cli-secret';
    const t = io();
    const stop = new AbortController();
    const running = runSimulateBackend(
      ['--aws-keys-env', 'MODELROUTE_SIM_TEST_AWS_ID,MODELROUTE_SIM_TEST_AWS_SECRET'],
      t.io,
      stop.signal,
    );
    try {
      while (t.out.length === 0 && t.err.length === 0) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(t.err).toEqual([]);
      expect(t.out[0]).not.toContain('cli-secret');
      const { url } = JSON.parse(t.out[0] as string) as { url: string };
      const converse = async (secretAccessKey: string) => {
        const request = {
          url: `${url}/model/sim-model/converse`,
          method: 'POST' as const,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] }),
        };
        const { headers } = await signRequest(request, {
          credentials: { accessKeyId: 'AKIASIMCLI', secretAccessKey },
          region: 'us-east-1',
          service: 'bedrock',
        });
        const res = await fetch(request.url, { method: 'POST', headers, body: request.body });
        await res.text();
        return res.status;
      };
      expect(await converse('cli-secret')).toBe(200);
      expect(await converse('wrong')).toBe(403);
    } finally {
      stop.abort();
      delete process.env.MODELROUTE_SIM_TEST_AWS_ID;
      delete process.env.MODELROUTE_SIM_TEST_AWS_SECRET;
    }
    expect(await running).toBe(0);
  });
});
