// `modelroute dev` honours the server flags it accepts: each limit is set
// through the flag parser and checked against the running local-mode proxy.
import { join } from 'node:path';
import { devModeOptions } from '../../src/cli/dev.js';
import { resolveServerSettings } from '../../src/cli/server-flags.js';
import { startDevMode, type DevMode } from '../../src/proxy/local/dev-mode.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { rawExchange } from '../support/raw-http.js';

const SAMPLES = join(import.meta.dirname, '..', '..', 'manifests', 'samples');

let dev: DevMode;

beforeAll(async () => {
  const resolved = resolveServerSettings(
    {
      port: '0',
      'max-body-bytes': '2048',
      'headers-timeout': '300ms',
      'request-timeout': '600ms',
      'client-stall-timeout': '7s',
    },
    {},
    { port: '8080', adminPort: '0', adminHost: '127.0.0.1' },
  );
  if (!resolved.ok) throw new Error(resolved.message);
  const logger = createLogger({ level: 'error', write: () => {} });
  dev = await startDevMode(
    devModeOptions(resolved.settings, { config: [SAMPLES], simulate: true }, logger),
  );
});

afterAll(async () => {
  await dev.close();
});

const chat = (content: string) =>
  JSON.stringify({ model: 'chat', messages: [{ role: 'user', content }] });

test('--max-body-bytes: a body over the limit is 413, one under it is served', async () => {
  const big = await fetch(`${dev.proxy.dataUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: chat('x'.repeat(4096)),
  });
  expect(big.status).toBe(413);
  expect(((await big.json()) as { error: { message: string } }).error.message).toMatch(/2048/);
  const small = await fetch(`${dev.proxy.dataUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: chat('hello'),
  });
  expect(small.status).toBe(200);
});

// Node enforces both limits on a periodic sweep; the default limits (10 s and
// 60 s) would leave these sockets unanswered far past rawExchange's 5 s wait.
test('--headers-timeout: headers not finished in time get 408', async () => {
  const res = await rawExchange(
    dev.proxy.dataUrl,
    ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'],
    { timeoutMs: 5_000 },
  );
  expect(res.status).toBe(408);
});

test('--request-timeout: a body not finished in time gets 408', async () => {
  const res = await rawExchange(
    dev.proxy.dataUrl,
    [
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n',
      '{"model":',
    ],
    { timeoutMs: 5_000 },
  );
  expect(res.status).toBe(408);
});

test('--client-stall-timeout reaches the proxy', () => {
  expect(dev.proxy.runtime.limits.clientStallTimeoutMs).toBe(7_000);
});

test.each([
  ['headers-timeout', '1000h', '--headers-timeout must be at most 1h'],
  ['request-timeout', '1000h', '--request-timeout must be at most 24h'],
  ['client-stall-timeout', '0s', '--client-stall-timeout must be more than 0'],
])('--%s %s is refused with a clear message', (flag, value, message) => {
  const resolved = resolveServerSettings(
    { [flag]: value },
    {},
    {
      port: '8080',
      adminPort: '0',
      adminHost: '127.0.0.1',
    },
  );
  expect(resolved).toEqual({ ok: false, message });
});
