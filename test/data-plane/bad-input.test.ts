// Every way a client can get a request wrong, against a real proxy: each
// answer has the right status and OpenAI's error shape, and none of it takes
// the proxy down.
import { startProxy } from '../../src/proxy/proxy.js';
import { compileRoutingTable } from '../../src/routing/compile.js';
import { createLogger } from '../../src/telemetry/logger.js';
import {
  ADMIN_TOKEN,
  jsonOrUndefined,
  route,
  startDataPlane,
  tenant,
  type DataPlane,
} from '../support/data-plane.js';
import { rawExchange } from '../support/raw-http.js';

/** One HTTP answer, whether it came through fetch or a raw socket. */
interface Answer {
  status: number;
  text: string;
  json: unknown;
  header(name: string): string | null;
}

interface ExpectedError {
  code?: string | null;
  param?: string | null;
  type?: string;
  message?: RegExp;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/**
 * The status, and OpenAI's error shape:
 * {"error":{"message": non-empty string, "type": string, "param": string|null, "code": string|null}}.
 */
function expectOpenAIError(res: Answer, status: number, want: ExpectedError = {}): void {
  const error = isRecord(res.json) ? res.json.error : undefined;
  const e = isRecord(error) ? error : {};
  expect({
    status: res.status,
    json: /^application\/json\b/.test(res.header('content-type') ?? ''),
    fields: isRecord(error) ? Object.keys(error).sort() : 'no error object',
    message:
      typeof e.message === 'string' && e.message.trim() !== '' ? 'non-empty' : kind(e.message),
    type: want.type ?? kind(e.type),
    param: want.param !== undefined ? e.param : ['string', 'null'].includes(kind(e.param)),
    code: want.code !== undefined ? e.code : ['string', 'null'].includes(kind(e.code)),
    body: res.text.slice(0, 400),
  }).toEqual({
    status,
    json: true,
    fields: ['code', 'message', 'param', 'type'],
    message: 'non-empty',
    type: want.type !== undefined ? e.type : 'string',
    param: want.param !== undefined ? want.param : true,
    code: want.code !== undefined ? want.code : true,
    body: expect.any(String),
  });
  if (want.message) expect(e.message).toMatch(want.message);
}

async function send(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const { method = 'POST', body, headers = {} } = init;
  const res = await fetch(url, {
    method,
    headers:
      body === undefined || body instanceof Uint8Array
        ? headers
        : { 'content-type': 'application/json', ...headers },
    body:
      body === undefined || typeof body === 'string' || body instanceof Uint8Array
        ? body
        : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: jsonOrUndefined(text),
    header: (name) => res.headers.get(name),
  };
}

async function raw(url: string, pieces: (string | Buffer)[], pauseMs = 0): Promise<Answer> {
  const res = await rawExchange(url, pieces, { pauseMs });
  return { ...res, header: (name) => res.headers[name.toLowerCase()] ?? null };
}

const hi = [{ role: 'user', content: 'hi' }];
const validChat = { model: 'chat', messages: hi };
const quiet = () => createLogger({ level: 'error', write: () => {} });

let dp: DataPlane;
let data: string;
let admin: string;
const chatUrl = () => `${data}/v1/chat/completions`;

beforeAll(async () => {
  dp = await startDataPlane(
    [
      { name: 'a', spec: { capabilities: ['chat', 'completions', 'embeddings', 'streaming'] } },
      { name: 'c', spec: { capabilities: ['chat'] } },
    ],
    [
      route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] }),
      route('chat-only', { rules: [{ name: 'all', backendRefs: [{ name: 'c' }] }] }),
    ],
    // Requests here come from the default tenant, trusted to ask for compliance and capabilities.
    {
      tableIdentity: {
        tenants: [tenant('default', { trustedHeaders: ['compliance', 'capabilities'] })],
      },
    },
  );
  data = dp.proxy.dataUrl;
  admin = dp.proxy.adminUrl;
});

afterAll(async () => {
  await dp.close();
});

describe('malformed JSON is a 400 invalid_json', () => {
  test.each<[string, string | Uint8Array]>([
    ['a truncated body', '{"model":"chat","messages":[{"role":"us'],
    ['a trailing comma', '{"model":"chat","messages":[{"role":"user","content":"hi"}],}'],
    ['single quotes', "{'model':'chat','messages':[{'role':'user','content':'hi'}]}"],
    ['NaN', '{"model":"chat","messages":[{"role":"user","content":"hi"}],"temperature":NaN}'],
    ['unquoted keys', '{model:"chat",messages:[{role:"user",content:"hi"}]}'],
    ['a comment', '// hello\n{"model":"chat","messages":[{"role":"user","content":"hi"}]}'],
    ['two objects back to back', `${JSON.stringify(validChat)}${JSON.stringify(validChat)}`],
    ['a UTF-8 byte-order mark before the object', `\uFEFF${JSON.stringify(validChat)}`],
    ['bytes that are not UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x22, 0x7d])],
    ['whitespace only', ' \n\t '],
  ])('%s', async (_name, body) => {
    const res = await send(chatUrl(), {
      body,
      headers: { 'content-type': 'application/json' },
    });
    expectOpenAIError(res, 400, {
      code: 'invalid_json',
      param: null,
      type: 'invalid_request_error',
      message: /not valid JSON/,
    });
  });

  test('an empty body says so', async () => {
    const res = await send(chatUrl(), { body: '' });
    expectOpenAIError(res, 400, { code: 'invalid_json', param: null, message: /empty/ });
  });

  test.each<[string, string]>([
    ['an array', JSON.stringify([validChat])],
    ['a string', '"chat"'],
    ['a number', '42'],
    ['null', 'null'],
    ['a boolean', 'true'],
  ])('JSON that is %s rather than an object', async (_name, body) => {
    const res = await send(chatUrl(), { body });
    expectOpenAIError(res, 400, { code: 'invalid_json', param: null, message: /JSON object/ });
  });

  test('JSON nested thousands of levels deep is refused before it can overflow a stack', async () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const res = await send(chatUrl(), {
      body: `{"model":"chat","messages":[{"role":"user","content":"hi"}],"metadata":${deep}}`,
    });
    expectOpenAIError(res, 400, { code: 'invalid_json', message: /nested more than \d+ levels/ });
  });
});

describe('content type', () => {
  test.each<[string, string]>([
    ['text/plain', 'text/plain'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['XML', 'application/xml'],
  ])('%s is 415 unsupported_media_type', async (_name, contentType) => {
    const res = await send(chatUrl(), {
      body: JSON.stringify(validChat),
      headers: { 'content-type': contentType },
    });
    expectOpenAIError(res, 415, { code: 'unsupported_media_type', message: /application\/json/ });
  });

  test('a missing content-type is accepted: the body is read as JSON', async () => {
    const body = JSON.stringify(validChat);
    const res = await raw(data, [
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    ]);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ object: 'chat.completion' });
  });

  test('application/json with a charset and +json types are accepted', async () => {
    for (const contentType of ['application/json; charset=utf-8', 'application/vnd.api+json']) {
      const res = await send(chatUrl(), {
        body: JSON.stringify(validChat),
        headers: { 'content-type': contentType },
      });
      expect(res.status).toBe(200);
    }
  });
});

describe('the model field', () => {
  test.each<[string, Record<string, unknown>, RegExp]>([
    ['missing', { messages: hi }, /model/],
    ['a number', { model: 4, messages: hi }, /model/],
    ['null', { model: null, messages: hi }, /model/],
    ['an array', { model: ['chat'], messages: hi }, /model/],
    ['empty', { model: '', messages: hi }, /non-empty/],
  ])('%s is a 400 naming model', async (_name, body, message) => {
    const res = await send(chatUrl(), { body });
    expectOpenAIError(res, 400, { code: 'invalid_value', param: 'model', message });
  });

  test.each<[string, string]>([
    ['an unknown model', 'gpt-9'],
    ['a known model in other letter case (names are exact)', 'CHAT'],
    ['a known model with surrounding spaces', ' chat '],
  ])('%s is 404 model_not_found', async (_name, model) => {
    const res = await send(chatUrl(), { body: { model, messages: hi } });
    expectOpenAIError(res, 404, {
      code: 'model_not_found',
      param: 'model',
      type: 'not_found_error',
      message: /does not exist/,
    });
  });
});

describe('chat completions fields', () => {
  test.each<[string, Record<string, unknown>, string]>([
    ['missing messages', { model: 'chat' }, 'messages'],
    ['messages as an object', { model: 'chat', messages: { role: 'user' } }, 'messages'],
    ['messages as a string', { model: 'chat', messages: 'hi' }, 'messages'],
    ['empty messages', { model: 'chat', messages: [] }, 'messages'],
    ['a message that is a string', { model: 'chat', messages: ['hi'] }, 'messages[0]'],
    [
      'a message without role',
      { model: 'chat', messages: [{ content: 'hi' }] },
      'messages[0].role',
    ],
    [
      'a role that does not exist',
      { model: 'chat', messages: [{ role: 'robot', content: 'hi' }] },
      'messages[0].role',
    ],
    [
      'a wrong role in a later message',
      { model: 'chat', messages: [...hi, { role: 'User', content: 'x' }] },
      'messages[1].role',
    ],
    [
      'content as a number',
      { model: 'chat', messages: [{ role: 'user', content: 42 }] },
      'messages[0].content',
    ],
    [
      'content as an object',
      { model: 'chat', messages: [{ role: 'user', content: { text: 'hi' } }] },
      'messages[0].content',
    ],
    [
      'a content part without type',
      { model: 'chat', messages: [{ role: 'user', content: [{ text: 'hi' }] }] },
      'messages[0].content',
    ],
    ['stream as a string', { ...validChat, stream: 'true' }, 'stream'],
    ['stream_options as a string', { ...validChat, stream_options: 'yes' }, 'stream_options'],
    ['max_tokens 0', { ...validChat, max_tokens: 0 }, 'max_tokens'],
    ['max_tokens negative', { ...validChat, max_tokens: -5 }, 'max_tokens'],
    ['max_tokens fractional', { ...validChat, max_tokens: 1.5 }, 'max_tokens'],
    ['max_tokens as a string', { ...validChat, max_tokens: '100' }, 'max_tokens'],
    ['max_tokens beyond 2^53', { ...validChat, max_tokens: 1e300 }, 'max_tokens'],
    [
      'max_completion_tokens 0',
      { ...validChat, max_completion_tokens: 0 },
      'max_completion_tokens',
    ],
    ['temperature above 2', { ...validChat, temperature: 2.5 }, 'temperature'],
    ['temperature below 0', { ...validChat, temperature: -0.1 }, 'temperature'],
    ['temperature as a string', { ...validChat, temperature: '0.5' }, 'temperature'],
    ['top_p above 1', { ...validChat, top_p: 1.1 }, 'top_p'],
    ['top_p below 0', { ...validChat, top_p: -1 }, 'top_p'],
    ['n 0', { ...validChat, n: 0 }, 'n'],
    ['tools as an object', { ...validChat, tools: { type: 'function' } }, 'tools'],
  ])('%s is a 400 naming the field', async (_name, body, param) => {
    const res = await send(chatUrl(), { body });
    expectOpenAIError(res, 400, {
      code: 'invalid_value',
      param,
      type: 'invalid_request_error',
      message: new RegExp(`^${param.replace(/[[\].]/g, '\\$&')}: `),
    });
  });

  test('1e400 overflows to Infinity and is refused like any number out of range', async () => {
    const res = await send(chatUrl(), {
      body: '{"model":"chat","messages":[{"role":"user","content":"hi"}],"temperature":1e400}',
    });
    expectOpenAIError(res, 400, { code: 'invalid_value', param: 'temperature' });
  });
});

describe('completions and embeddings fields', () => {
  test.each<[string, string, Record<string, unknown>, string]>([
    ['completions: missing prompt', 'completions', { model: 'chat' }, 'prompt'],
    ['completions: prompt as a number', 'completions', { model: 'chat', prompt: 7 }, 'prompt'],
    ['completions: prompt as an object', 'completions', { model: 'chat', prompt: {} }, 'prompt'],
    [
      'completions: strings and token ids mixed',
      'completions',
      { model: 'chat', prompt: ['a', 1] },
      'prompt',
    ],
    [
      'completions: max_tokens negative',
      'completions',
      { model: 'chat', prompt: 'x', max_tokens: -1 },
      'max_tokens',
    ],
    ['embeddings: missing input', 'embeddings', { model: 'chat' }, 'input'],
    ['embeddings: an empty input array', 'embeddings', { model: 'chat', input: [] }, 'input'],
    ['embeddings: input as a number', 'embeddings', { model: 'chat', input: 3 }, 'input'],
    ['embeddings: input as null', 'embeddings', { model: 'chat', input: null }, 'input'],
    [
      'embeddings: an unknown encoding_format',
      'embeddings',
      { model: 'chat', input: 'x', encoding_format: 'int8' },
      'encoding_format',
    ],
    [
      'embeddings: dimensions 0',
      'embeddings',
      { model: 'chat', input: 'x', dimensions: 0 },
      'dimensions',
    ],
    ['embeddings: model missing', 'embeddings', { input: 'x' }, 'model'],
  ])('%s is a 400 naming the field', async (_name, endpoint, body, param) => {
    const res = await send(`${data}/v1/${endpoint}`, { body });
    expectOpenAIError(res, 400, { code: 'invalid_value', param });
  });

  test('a chat body sent to /v1/completions is told what is missing', async () => {
    const res = await send(`${data}/v1/completions`, { body: validChat });
    expectOpenAIError(res, 400, { code: 'invalid_value', param: 'prompt' });
  });
});

describe('requests no backend can serve are 400 no_eligible_backend', () => {
  test.each<[string, Record<string, unknown>, Record<string, string>, RegExp]>([
    ['a compliance tag no backend has', validChat, { 'x-modelroute-compliance': 'hipaa' }, /hipaa/],
    [
      'an image (vision) when no backend has vision',
      {
        model: 'chat',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
            ],
          },
        ],
      },
      {},
      /vision/,
    ],
    [
      'tools when no backend has tools',
      {
        ...validChat,
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      },
      {},
      /tools/,
    ],
    [
      'a capability asked for in the header',
      validChat,
      { 'x-modelroute-capabilities': 'reasoning' },
      /reasoning/,
    ],
  ])('%s', async (_name, body, headers, message) => {
    const res = await send(chatUrl(), { body, headers });
    expectOpenAIError(res, 400, { code: 'no_eligible_backend', param: null, message });
  });

  test('embeddings on a route whose backends only chat', async () => {
    const res = await send(`${data}/v1/embeddings`, { body: { model: 'chat-only', input: 'x' } });
    expectOpenAIError(res, 400, { code: 'no_eligible_backend', message: /embeddings/ });
  });
});

describe('methods and paths', () => {
  test.each<[string, string, string]>([
    ['GET', '/v1/chat/completions', 'POST'],
    ['PUT', '/v1/completions', 'POST'],
    ['OPTIONS', '/v1/embeddings', 'POST'],
    ['POST', '/v1/models', 'GET'],
    ['DELETE', '/v1/models', 'GET'],
  ])('%s %s is 405 with allow: %s', async (method, path, allowed) => {
    const res = await send(`${data}${path}`, { method });
    expectOpenAIError(res, 405, { code: 'method_not_allowed', param: null });
    expect(res.header('allow')).toBe(allowed);
  });

  test.each<[string, string]>([
    ['POST', '/v1/chat'],
    ['POST', '/v2/chat/completions'],
    ['POST', '/v1/chat/completions/'],
    ['POST', '/chat/completions'],
    ['GET', '/'],
    ['GET', '/healthz'],
  ])('%s %s is 404 unknown_url', async (method, path) => {
    const res = await send(`${data}${path}`, {
      method,
      ...(method === 'POST' ? { body: validChat } : {}),
    });
    expectOpenAIError(res, 404, {
      code: 'unknown_url',
      type: 'not_found_error',
      message: /\/v1\/chat\/completions/,
    });
  });

  test('query strings on the served paths are ignored', async () => {
    const chat = await send(`${chatUrl()}?api-version=2024-10-21&x=1`, { body: validChat });
    expect(chat.status).toBe(200);
    const models = await send(`${data}/v1/models?limit=1`, { method: 'GET' });
    expect(models.status).toBe(200);
    expect(models.json).toMatchObject({ object: 'list' });
  });
});

describe('malformed HTTP is answered in OpenAI shape, and the proxy keeps serving', () => {
  const body = JSON.stringify(validChat);
  test.each<[string, string, number]>([
    ['a garbage request line', 'GARBAGE\r\n\r\n', 400],
    ['binary noise', '\u0000\u0001\u0002 nonsense\r\n\r\n', 400],
    ['an unknown HTTP version', 'POST /v1/chat/completions HTTP/9.9\r\nHost: x\r\n\r\n', 400],
    [
      'a space in a header name',
      'GET /v1/models HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
      400,
    ],
    [
      'content-length that is not a number',
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: abc\r\n\r\n${body}`,
      400,
    ],
    [
      'both content-length and transfer-encoding (request smuggling)',
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\ntransfer-encoding: chunked\r\n\r\n${body}`,
      400,
    ],
    [
      'a chunk size that is not hex',
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nZZZ\r\nabc\r\n',
      400,
    ],
    [
      'an HTTP/1.1 request without Host',
      `POST /v1/chat/completions HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      400,
    ],
    [
      'headers larger than Node accepts',
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
    ],
  ])('%s', async (_name, request, status) => {
    const res = await raw(data, [request]);
    expectOpenAIError(res, status, { code: 'bad_http', type: 'invalid_request_error' });
    expect(res.header('connection')).toBe('close');
    const after = await send(chatUrl(), { body: validChat });
    expect(after.status).toBe(200);
  });
});

describe('body size limit', () => {
  let small: Awaited<ReturnType<typeof startDataPlane>>;
  const LIMIT = 1024;
  beforeAll(async () => {
    small = await startDataPlane(
      [{ name: 'a' }],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] })],
      { maxBodyBytes: LIMIT },
    );
  });
  afterAll(async () => {
    await small.close();
  });
  const bodyOf = (bytes: number) => {
    const base = JSON.stringify(validChat);
    return `${base.slice(0, -1)}${' '.repeat(bytes - base.length)}}`;
  };

  test('a body of exactly the limit is served', async () => {
    const res = await send(`${small.proxy.dataUrl}/v1/chat/completions`, { body: bodyOf(LIMIT) });
    expect(res.status).toBe(200);
  });

  test('one byte over, with an honest content-length, is 413 request_too_large', async () => {
    const res = await send(`${small.proxy.dataUrl}/v1/chat/completions`, {
      body: bodyOf(LIMIT + 1),
    });
    expectOpenAIError(res, 413, { code: 'request_too_large', message: /1024 bytes/ });
  });

  test('a chunked body that grows past the limit is 413 request_too_large', async () => {
    const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
    const res = await raw(
      small.proxy.dataUrl,
      [
        'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n',
        chunk('{"model":"chat","messages":[{"role":"user","content":"'),
        chunk('x'.repeat(600)),
        chunk('x'.repeat(600)),
        chunk('x'.repeat(600)),
      ],
      20,
    );
    expectOpenAIError(res, 413, { code: 'request_too_large' });
    const after = await send(`${small.proxy.dataUrl}/v1/chat/completions`, { body: validChat });
    expect(after.status).toBe(200);
  });
});

describe('slow clients', () => {
  // Node checks these limits on a periodic sweep, so the 408 may come up to
  // about twice the configured time later: the tests wait and assert only the answer.
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  beforeAll(async () => {
    proxy = await startProxy({
      adminToken: { value: ADMIN_TOKEN },
      logger: quiet(),
      headersTimeoutMs: 500,
      requestTimeoutMs: 1_000,
    });
  });
  afterAll(async () => {
    await proxy.close();
  });

  test('headers not finished within headersTimeout: 408', async () => {
    const res = await raw(proxy.dataUrl, ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n']);
    expectOpenAIError(res, 408, { code: 'bad_http', message: /REQUEST_TIMEOUT/ });
  });

  test('a body not finished within requestTimeout: 408, and not counted as a proxy failure', async () => {
    const res = await raw(proxy.dataUrl, [
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n',
      '{"model":',
    ]);
    expectOpenAIError(res, 408, { code: 'bad_http', message: /REQUEST_TIMEOUT/ });
    // The handler saw its body cut off: a client error in the metrics, not a 500.
    const metrics = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/modelroute_requests_total\{[^}]*code="400"[^}]*\} 1/);
    expect(metrics).not.toMatch(/modelroute_requests_total\{[^}]*code="5\d\d"/);
  });
});

describe('admin API', () => {
  const tableUrl = () => `${admin}/admin/v1/table`;
  const currentTable = () =>
    JSON.parse(JSON.stringify(dp.proxy.runtime.store.prepared!.table)) as Record<string, unknown>;

  test.each<[string, Record<string, string>]>([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
    ['the token without a scheme', { authorization: ADMIN_TOKEN }],
    ['the token with the Basic scheme', { authorization: `Basic ${ADMIN_TOKEN}` }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ])('PUT table with %s is 401 with www-authenticate', async (_name, headers) => {
    const before = dp.proxy.runtime.store.version;
    const res = await send(tableUrl(), { method: 'PUT', body: currentTable(), headers });
    expectOpenAIError(res, 401, { code: 'unauthorized' });
    expect(res.header('www-authenticate')).toBe('Bearer');
    expect(dp.proxy.runtime.store.version).toBe(before);
  });

  test('GET stats and GET table without the token are 401', async () => {
    for (const path of ['/admin/v1/stats', '/admin/v1/table']) {
      const res = await send(`${admin}${path}`, { method: 'GET' });
      expectOpenAIError(res, 401, { code: 'unauthorized' });
      expect(res.header('www-authenticate')).toBe('Bearer');
    }
  });

  test('PUT table with malformed JSON is 400', async () => {
    const res = await send(tableUrl(), {
      method: 'PUT',
      body: '{"formatVersion": 1,',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    });
    expectOpenAIError(res, 400, { message: /bad request/ });
  });

  test.each<[string, (t: Record<string, unknown>) => unknown, RegExp]>([
    ['a wrong format version', (t) => ({ ...t, formatVersion: 99 }), /format 99/],
    [
      'an unknown backend reference',
      (t) => {
        const routes = t.routes as { rules: { backends: { backendId: string }[] }[] }[];
        routes[0]!.rules[0]!.backends[0]!.backendId = 'default/ghost';
        return t;
      },
      /does not contain/,
    ],
    ['a JSON array', () => [1, 2, 3], /invalid routing table/],
  ])(
    'PUT table with %s is 422 table_rejected and the old table still serves',
    async (_name, mutate, message) => {
      const before = dp.proxy.runtime.store.version;
      const res = await send(tableUrl(), {
        method: 'PUT',
        body: mutate(currentTable()),
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expectOpenAIError(res, 422, { code: 'table_rejected', message });
      expect(res.json).toMatchObject({ currentVersion: before });
      expect(dp.proxy.runtime.store.version).toBe(before);
      expect((await send(chatUrl(), { body: validChat })).status).toBe(200);
    },
  );

  test('an unknown admin path is 404 unknown_url', async () => {
    for (const [method, path] of [
      ['GET', '/admin/v1/nope'],
      ['POST', '/admin/v1/table'],
      ['GET', '/v1/models'],
    ] as const) {
      const res = await send(`${admin}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expectOpenAIError(res, 404, { code: 'unknown_url' });
    }
  });

  test('a table pushed with a valid token after all that is installed', async () => {
    const table = compileRoutingTable(dp.routes, dp.backends);
    const res = await send(tableUrl(), {
      method: 'PUT',
      body: table,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ version: table.version });
  });
});

test('after all of it the proxy still serves a valid request, buffered and streamed', async () => {
  const res = await dp.client.chat.completions.create({
    model: 'chat',
    messages: [{ role: 'user', content: 'hi' }],
  });
  expect(res.choices[0]?.message.content).toEqual(expect.any(String));
  const stream = await dp.client.chat.completions.create({
    model: 'chat',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  expect(text.length).toBeGreaterThan(0);
  expect(await (await fetch(`${admin}/healthz`)).json()).toEqual({ status: 'ok' });
});
