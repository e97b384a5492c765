import {
  REDACTED,
  createLogger,
  isSecretKey,
  scrubText,
  toLogValue,
  type LoggerOptions,
} from './logger.js';

const FIXED = new Date('2026-01-02T03:04:05.678Z');

function capture(options: LoggerOptions = {}) {
  const lines: string[] = [];
  const logger = createLogger({ now: () => FIXED, write: (l) => lines.push(l), ...options });
  const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, parsed };
}

describe('shape', () => {
  test('one JSON object per call: time, level, msg, then fields', () => {
    const { logger, lines } = capture();
    logger.info('request done', { route: 'chat', status: 200 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '2026-01-02T03:04:05.678Z',
      level: 'info',
      msg: 'request done',
      route: 'chat',
      status: 200,
    });
    expect(Object.keys(JSON.parse(lines[0]!) as object).slice(0, 3)).toEqual([
      'time',
      'level',
      'msg',
    ]);
  });

  test('fields cannot overwrite time, level or msg; they are kept under field.*', () => {
    const { logger, parsed } = capture();
    logger.warn('real', { msg: 'fake', level: 'debug', time: 'then' });
    expect(parsed()[0]).toMatchObject({
      level: 'warn',
      msg: 'real',
      time: FIXED.toISOString(),
      'field.msg': 'fake',
      'field.level': 'debug',
      'field.time': 'then',
    });
  });

  test('default writer is stderr, newline-terminated', () => {
    // Swapped by hand: under native ESM the `jest` global (spyOn) is not injected.
    const original = process.stderr.write.bind(process.stderr);
    const written: unknown[] = [];
    process.stderr.write = (chunk: unknown) => written.push(chunk) > 0;
    try {
      createLogger({ now: () => FIXED }).error('boom');
    } finally {
      process.stderr.write = original;
    }
    expect(written).toEqual(['{"time":"2026-01-02T03:04:05.678Z","level":"error","msg":"boom"}\n']);
  });
});

describe('levels', () => {
  test('default level is info', () => {
    const { logger, parsed } = capture();
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(parsed().map((l) => l.level)).toEqual(['info', 'warn', 'error']);
  });

  test.each([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ] as const)('level %s', (level, expected) => {
    const { logger, parsed } = capture({ level });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(parsed().map((l) => l.level)).toEqual(expected);
  });

  test('filtered lines do no work (a throwing getter is never touched)', () => {
    const { logger, lines } = capture({ level: 'warn' });
    const trap = {
      get boom(): never {
        throw new Error('touched');
      },
    };
    logger.info('skip', { trap });
    expect(lines).toEqual([]);
  });
});

describe('child loggers', () => {
  test('carry their fields, nest, and a call’s own fields win', () => {
    const { logger, parsed } = capture();
    const req = logger.child({ requestId: 'r1', route: 'chat' });
    const attempt = req.child({ backend: 'gpt', attempt: 2 });
    attempt.info('attempt', { attempt: 3 });
    req.info('done');
    logger.info('plain');
    const [a, b, c] = parsed();
    expect(a).toMatchObject({ requestId: 'r1', route: 'chat', backend: 'gpt', attempt: 3 });
    expect(b).toMatchObject({ requestId: 'r1', route: 'chat' });
    expect(b).not.toHaveProperty('backend');
    expect(c).not.toHaveProperty('requestId');
  });

  test('inherit the level and redact their own fields', () => {
    const { logger, parsed } = capture({ level: 'warn' });
    const child = logger.child({ apiKey: 'sk-live-123' });
    child.info('dropped');
    child.warn('kept');
    expect(parsed()).toEqual([expect.objectContaining({ msg: 'kept', apiKey: '[REDACTED]' })]);
  });
});

describe('redaction', () => {
  test('secrets at any depth are replaced, token counts survive', () => {
    const { logger, lines, parsed } = capture();
    logger.info('upstream call', {
      request: {
        headers: { Authorization: 'Bearer abc', 'x-api-key': 'k1', 'content-type': 'json' },
        body: { model: 'gpt-4o', max_tokens: 100, maxTokens: 100 },
      },
      backend: { name: 'b', credentials: { apiKey: 'k2' }, config: { deep: { secret: 's3' } } },
      api_key: 'k4',
      password: 'p5',
      access_token: 't6',
      refreshToken: 't7',
      token: 't8',
      usage: { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 },
      tokens: 46,
      tokensPerSecond: 55.5,
      tokenCount: 3,
      'gen_ai.usage.input_tokens': 12,
    });
    const line = parsed()[0]!;
    expect(line).toMatchObject({
      request: {
        headers: { Authorization: '[REDACTED]', 'x-api-key': '[REDACTED]', 'content-type': 'json' },
        body: { model: 'gpt-4o', max_tokens: 100, maxTokens: 100 },
      },
      backend: { name: 'b', credentials: '[REDACTED]', config: { deep: { secret: '[REDACTED]' } } },
      api_key: '[REDACTED]',
      password: '[REDACTED]',
      access_token: '[REDACTED]',
      refreshToken: '[REDACTED]',
      token: '[REDACTED]',
      usage: { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 },
      tokens: 46,
      tokensPerSecond: 55.5,
      tokenCount: 3,
      'gen_ai.usage.input_tokens': 12,
    });
    for (const secret of ['abc', 'k1', 'k2', 's3', 'k4', 'p5', 't6', 't7', 't8']) {
      expect(lines[0]).not.toContain(`"${secret}"`);
    }
  });

  test.each([
    'authorization',
    'Proxy-Authorization',
    'apiKey',
    'api-key',
    'API_KEY',
    'openaiApiKey',
    'clientSecret',
    'password',
    'credentials',
    'cookie',
    'set-cookie',
    'access_token',
    'id_token',
    'x-auth-token',
    'sessionToken',
    'GITHUB_TOKEN',
    'token',
    'private_key',
  ])('%s is a secret key', (key) => {
    expect(isSecretKey(key, 'value')).toBe(true);
  });

  test.each([
    'prompt_tokens',
    'completion_tokens',
    'total_tokens',
    'cached_tokens',
    'tokens',
    'maxTokens',
    'max_tokens',
    'MAX_TOKENS',
    'max_completion_tokens',
    'tokensPerSecond',
    'tokens_per_second',
    'inputTokens',
    'gen_ai.usage.output_tokens',
    'tokenCount',
    'token_count',
    'tokenizer',
    'model',
  ])('%s is not a credential key', (key) => {
    expect(isSecretKey(key, 42)).toBe(false);
    // Count keys stay visible whatever they hold (e.g. an object of counts).
    expect(isSecretKey(key, { input: 1 })).toBe(false);
  });

  test('a "token" key holding a number is a count; holding a string it is a credential', () => {
    expect(isSecretKey('token', 17)).toBe(false);
    expect(isSecretKey('token', 'abc')).toBe(true);
    expect(isSecretKey('apiKey', 17)).toBe(true);
  });

  test('objects of counts under a plural tokens key are kept', () => {
    expect(toLogValue({ tokens: { input: 3, output: 4 } })).toEqual({
      tokens: { input: 3, output: 4 },
    });
  });

  test('inside arrays, Maps and fetch Headers', () => {
    const headers = new Headers({ authorization: 'Bearer xyz', accept: 'text/event-stream' });
    expect(
      toLogValue({
        list: [{ apiKey: 'a' }, { ok: 1 }],
        map: new Map<string, unknown>([
          ['password', 'p'],
          ['n', 1],
        ]),
        headers,
      }),
    ).toEqual({
      list: [{ apiKey: '[REDACTED]' }, { ok: 1 }],
      map: { password: '[REDACTED]', n: 1 },
      headers: { authorization: '[REDACTED]', accept: 'text/event-stream' },
    });
  });

  test('credentials inside URLs and free text', () => {
    expect(toLogValue(new URL('https://user:pw@api.example.com/v1?api_key=k&x=1'))).toBe(
      'https://%5BREDACTED%5D:%5BREDACTED%5D@api.example.com/v1?api_key=%5BREDACTED%5D&x=1',
    );
    expect(scrubText('401 from upstream: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig rejected')).toBe(
      '401 from upstream: Bearer [REDACTED] rejected',
    );
    expect(scrubText('Incorrect API key provided: sk-proj-abcdefghijklmnop1234.')).toBe(
      'Incorrect API key provided: [REDACTED].',
    );
    // Prose that merely mentions the words stays readable.
    expect(scrubText('Bearer token missing; sk-short')).toBe('Bearer token missing; sk-short');
  });

  test('the message itself is scrubbed too', () => {
    const { logger, parsed } = capture();
    logger.error('upstream said: Bearer abcdefghijklmnopqrstuvwxyz');
    expect(parsed()[0]!.msg).toBe('upstream said: Bearer [REDACTED]');
  });
});

describe('awkward values', () => {
  test('Errors become {name, message} plus code, status and cause; stack only at debug', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const err = Object.assign(new TypeError('fetch failed', { cause }), {
      status: 502,
      config: { headers: { Authorization: 'Bearer leaked' } },
    });
    const { logger, lines, parsed } = capture();
    logger.error('attempt failed', { err });
    expect(parsed()[0]!.err).toEqual({
      name: 'TypeError',
      message: 'fetch failed',
      status: 502,
      cause: { name: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' },
    });
    expect(lines[0]).not.toContain('leaked');

    const debug = capture({ level: 'debug' });
    debug.logger.error('attempt failed', { err });
    expect((debug.parsed()[0]!.err as { stack: string }).stack).toContain(
      'TypeError: fetch failed',
    );
  });

  test('cyclic structures do not throw and are marked', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const shared = { n: 1 };
    const { logger, parsed } = capture();
    expect(() => logger.info('cycle', { a, twice: [shared, shared] })).not.toThrow();
    expect(parsed()[0]).toMatchObject({
      a: { name: 'a', self: '[Circular]' },
      // The same object twice is not a cycle.
      twice: [{ n: 1 }, { n: 1 }],
    });
  });

  test('cyclic Errors (cause pointing back) do not throw', () => {
    const err = new Error('outer');
    (err as { cause?: unknown }).cause = err;
    expect(toLogValue(err)).toEqual({ name: 'Error', message: 'outer', cause: '[Circular]' });
  });

  test('bigint, Date, undefined, functions, buffers, NaN and deep nesting', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i++) deep = { d: deep };
    const { logger, parsed } = capture();
    logger.info('values', {
      big: 12345678901234567890n,
      when: FIXED,
      gone: undefined,
      fn: function handler() {},
      buf: Buffer.from('hello'),
      nan: Number.NaN,
      deep,
    });
    const line = parsed()[0]!;
    expect(line).toMatchObject({
      big: '12345678901234567890',
      when: FIXED.toISOString(),
      fn: '[Function handler]',
      buf: '[Buffer 5 bytes]',
      nan: 'NaN',
    });
    expect(line).not.toHaveProperty('gone');
    expect(JSON.stringify(line.deep)).toContain('[Truncated]');
  });

  test('a throwing getter still produces a line', () => {
    const { logger, parsed } = capture();
    const trap = {
      get boom(): never {
        throw new Error('getter exploded');
      },
    };
    expect(() => logger.warn('odd', { trap })).not.toThrow();
    expect(parsed()[0]).toMatchObject({ level: 'warn', msg: 'odd', logError: 'getter exploded' });
  });
});

test('traceId and spanId fields keep their hex ids; the same hex anywhere else, or a known key, is redacted', () => {
  const lines: string[] = [];
  const logger = createLogger({ write: (l) => lines.push(l) });
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  logger.info('request', { traceId, spanId: 'b7ad6b7169203331', other: traceId });
  expect(JSON.parse(lines[0]!)).toMatchObject({
    traceId,
    spanId: 'b7ad6b7169203331',
    other: REDACTED,
  });
  logger.info('request', { traceId: `key ${traceId}` });
  expect(JSON.parse(lines[1]!)).toMatchObject({ traceId: `key ${REDACTED}` });
});
