// The admin port's HTTP edges, on a real proxy: what it answers for unknown
// paths, wrong methods, missing tokens and bodies it cannot take. These are the
// answers express gave before the port moved to plain node:http; a controller
// of this release or the last relies on them.
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { compileRoutingTable } from '../../src/routing/compile.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { ADMIN_TOKEN } from '../support/data-plane.js';

let proxy: RunningProxy;
beforeAll(async () => {
  proxy = await startProxy({
    host: '127.0.0.1',
    adminToken: { value: ADMIN_TOKEN },
    logger: createLogger({ level: 'error', write: () => {} }),
  });
});
afterAll(() => proxy.close());

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const json = { ...auth, 'content-type': 'application/json' };
const JSON_TYPE = 'application/json; charset=utf-8';
const EMPTY_TABLE = JSON.stringify(compileRoutingTable([], []));
const error = (status: number, message: string, code: string) => ({
  status,
  body: { error: { message, type: 'invalid_request_error', param: null, code } },
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request on its own connection; node:http, so method, headers and framing are exactly as given. */
function admin(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<Answer> {
  const url = new URL(proxy.adminUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function expectAnswer(
  answer: Promise<Answer>,
  expected: { status: number; body: unknown },
): Promise<Answer> {
  const got = await answer;
  expect({ status: got.status, body: JSON.parse(got.text) as unknown }).toEqual(expected);
  expect(got.headers['content-type']).toBe(JSON_TYPE);
  expect(got.headers['content-length']).toBe(String(Buffer.byteLength(got.text)));
  return got;
}

const UNKNOWN = error(404, 'unknown admin path', 'unknown_url');
const UNAUTHORIZED = error(401, 'missing or wrong admin bearer token', 'unauthorized');
const TOKEN_ROUTES: [string, string][] = [
  ['PUT', '/admin/v1/table'],
  ['GET', '/admin/v1/table'],
  ['PUT', '/admin/v1/quotas'],
  ['GET', '/admin/v1/quotas'],
  ['GET', '/admin/v1/stats'],
];

test('an unknown path, or a known one with another method, is 404 "unknown admin path"', async () => {
  for (const [method, path] of [
    ['GET', '/'],
    ['GET', '/nope'],
    ['PUT', '/admin/v1/'],
    ['GET', '/healthz//'],
    ['POST', '/healthz'],
    ['PUT', '/readyz'],
    ['DELETE', '/admin/v1/table'],
    ['POST', '/admin/v1/quotas'],
    ['PUT', '/admin/v1/stats'],
    ['OPTIONS', '/healthz'],
    ['OPTIONS', '*'],
  ] as const) {
    // With the token, so a 404 is about the path and method alone.
    await expectAnswer(admin(method, path, auth), UNKNOWN);
  }
});

test('paths match regardless of case, a query or one trailing slash; HEAD is GET without a body', async () => {
  for (const path of ['/healthz', '/HealthZ', '/healthz/', '/healthz?probe=1'])
    await expectAnswer(admin('GET', path), { status: 200, body: { status: 'ok' } });
  const head = await admin('HEAD', '/healthz');
  expect(head).toMatchObject({ status: 200, text: '' });
  expect(head.headers['content-length']).toBe(String(JSON.stringify({ status: 'ok' }).length));
  const metrics = await admin('GET', '/metrics');
  expect(metrics.status).toBe(200);
  expect(metrics.headers['content-type']).toBe(proxy.runtime.metrics.contentType);
});

test('every token route without the token, or with a wrong one, is 401 with www-authenticate: Bearer', async () => {
  for (const [method, path] of TOKEN_ROUTES) {
    const tries: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: ADMIN_TOKEN },
    ];
    for (const headers of tries) {
      const got = await expectAnswer(
        admin(method, path, headers, method === 'PUT' ? EMPTY_TABLE : undefined),
        UNAUTHORIZED,
      );
      expect(got.headers['www-authenticate']).toBe('Bearer');
    }
  }
  expect(proxy.runtime.store.version).toBeUndefined();
});

test('a body that is not a JSON object or array is 400 in the OpenAI error shape', async () => {
  const parseFailed = (message: string) =>
    error(400, `bad request: ${message}`, 'entity.parse.failed');
  for (const path of ['/admin/v1/table', '/admin/v1/quotas']) {
    await expectAnswer(
      admin('PUT', path, json, '{"formatVersion": 1,'),
      parseFailed(`Expected double-quoted property name in JSON at position 20`),
    );
    await expectAnswer(
      admin('PUT', path, json, '123'),
      parseFailed(`Unexpected token '1', "123" is not valid JSON`),
    );
    await expectAnswer(
      admin('PUT', path, json, ' null'),
      parseFailed(`Unexpected token 'n', " null" is not valid JSON`),
    );
  }
  expect(proxy.runtime.store.version).toBeUndefined();
});

test('an empty body is an empty object; a BOM or gzip is taken; other charsets and encodings are 415', async () => {
  const rejected = await admin('PUT', '/admin/v1/table', json, '');
  expect(rejected.status).toBe(422);
  expect(JSON.parse(rejected.text)).toMatchObject({
    error: { code: 'table_rejected' },
    currentVersion: null,
    tableFormats: [1, 2],
  });
  await expectAnswer(
    admin(
      'PUT',
      '/admin/v1/table',
      { ...auth, 'content-type': 'application/json; charset=latin1' },
      EMPTY_TABLE,
    ),
    error(415, 'bad request: unsupported charset "LATIN1"', 'charset.unsupported'),
  );
  await expectAnswer(
    admin('PUT', '/admin/v1/table', { ...json, 'content-encoding': 'zip' }, EMPTY_TABLE),
    error(415, 'bad request: unsupported content encoding "zip"', 'encoding.unsupported'),
  );
  expect(proxy.runtime.store.version).toBeUndefined();

  const table = compileRoutingTable([], []);
  const installed = { version: table.version, changed: true, tableFormats: [1, 2] };
  await expectAnswer(
    admin('PUT', '/admin/v1/table', { ...json, 'content-encoding': 'gzip' }, gzipSync(EMPTY_TABLE)),
    { status: 200, body: installed },
  );
  await expectAnswer(admin('PUT', '/admin/v1/table', json, `\ufeff${EMPTY_TABLE}`), {
    status: 200,
    body: { ...installed, changed: false },
  });
});

test('a body over 16 MB is 413, however it is framed or compressed, and the port still answers', async () => {
  const tooLarge = error(413, 'body larger than 16mb', 'entity.too.large');
  const big = Buffer.alloc(16 * 1024 * 1024 + 1, 0x20);
  const before = proxy.runtime.store.version;
  await expectAnswer(admin('PUT', '/admin/v1/table', json, big), tooLarge);
  await expectAnswer(
    admin('PUT', '/admin/v1/table', { ...json, 'transfer-encoding': 'chunked' }, big),
    tooLarge,
  );
  // 16 KB on the wire, 16 MB + 1 once inflated.
  await expectAnswer(
    admin('PUT', '/admin/v1/table', { ...json, 'content-encoding': 'gzip' }, gzipSync(big)),
    tooLarge,
  );
  expect(proxy.runtime.store.version).toBe(before);
  await expectAnswer(admin('GET', '/healthz'), { status: 200, body: { status: 'ok' } });
});

test('fuzz: random bodies never get a 5xx, only a 4xx in the error shape or a table verdict', async () => {
  let seed = 15;
  const rand = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const pieces = [
    '{',
    '}',
    '[',
    ']',
    '"',
    ':',
    ',',
    'null',
    '1e999',
    '-',
    'true',
    ' ',
    '\\u',
    'é',
    '\u0000',
  ];
  for (let i = 0; i < 200; i++) {
    let body = '';
    for (let n = rand(12); n > 0; n--) body += pieces[rand(pieces.length)];
    const got = await admin('PUT', i % 2 ? '/admin/v1/table' : '/admin/v1/quotas', json, body);
    expect([400, 409, 422]).toContain(got.status);
    expect(JSON.parse(got.text)).toMatchObject({
      error: { message: expect.any(String), type: 'invalid_request_error', param: null },
    });
  }
});
