import {
  createProxyMetrics,
  GENAI_TOKEN_BUCKETS,
  OVERHEAD_BUCKETS,
  type ProxyMetrics,
} from './proxy-metrics.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// Enough of the text format for these tests: `name{a="x",b="y"} value`.
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

async function samples(metrics: ProxyMetrics, name: string): Promise<Sample[]> {
  return parse(await metrics.render()).filter((s) => s.name === name);
}

async function value(
  metrics: ProxyMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const found = (await samples(metrics, name)).filter((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} is ambiguous`);
  return found[0]?.value;
}

const rb = { route: 'chat', backend: 'gpt-4o' };

test('content type is the Prometheus text format', () => {
  expect(createProxyMetrics().contentType).toMatch(/^text\/plain; version=0\.0\.4/);
});

test('requestCompleted: counter by route/endpoint/code/stream and a duration histogram', async () => {
  const m = createProxyMetrics();
  m.requestCompleted({ route: 'chat', endpoint: 'chat', status: 200, stream: true }, 1.2);
  m.requestCompleted({ route: 'chat', endpoint: 'chat', status: 200, stream: true }, 0.3);
  m.requestCompleted({ route: 'chat', endpoint: 'chat', status: 429, stream: false }, 0.01);
  const ok = { route: 'chat', endpoint: 'chat', code: '200', stream: 'true' };
  expect(await value(m, 'modelroute_requests_total', ok)).toBe(2);
  expect(await value(m, 'modelroute_requests_total', { code: '429', stream: 'false' })).toBe(1);
  const streamed = { route: 'chat', endpoint: 'chat', stream: 'true' };
  expect(await value(m, 'modelroute_request_duration_seconds_count', streamed)).toBe(2);
  expect(await value(m, 'modelroute_request_duration_seconds_sum', streamed)).toBeCloseTo(1.5);
  expect(
    await value(m, 'modelroute_request_duration_seconds_bucket', { ...streamed, le: '0.5' }),
  ).toBe(1);
  // The histogram has no code label (a status per bucket set would multiply series).
  const hist = await samples(m, 'modelroute_request_duration_seconds_count');
  expect(hist.every((s) => !('code' in s.labels))).toBe(true);
  // LLM-scale buckets: 50 ms .. 120 s.
  const les = (await samples(m, 'modelroute_request_duration_seconds_bucket'))
    .filter((s) => s.labels.stream === 'true')
    .map((s) => s.labels.le);
  expect(les[0]).toBe('0.05');
  expect(les).toContain('120');
});

test('attemptCompleted: attempts counter and duration histogram by outcome', async () => {
  const m = createProxyMetrics();
  m.attemptCompleted({ ...rb, outcome: 'success' }, 2);
  m.attemptCompleted({ ...rb, outcome: 'timeout' }, 30);
  m.attemptCompleted({ ...rb, outcome: 'timeout' }, 30);
  expect(await value(m, 'modelroute_upstream_attempts_total', { outcome: 'success' })).toBe(1);
  expect(await value(m, 'modelroute_upstream_attempts_total', { outcome: 'timeout' })).toBe(2);
  expect(
    await value(m, 'modelroute_upstream_attempt_duration_seconds_sum', { outcome: 'timeout' }),
  ).toBe(60);
});

test('timeToFirstToken: histogram with buckets from 10 ms', async () => {
  const m = createProxyMetrics();
  m.timeToFirstToken(rb, 0.2);
  expect(await value(m, 'modelroute_time_to_first_token_seconds_count', rb)).toBe(1);
  expect(await value(m, 'modelroute_time_to_first_token_seconds_bucket', { le: '0.01' })).toBe(0);
  expect(await value(m, 'modelroute_time_to_first_token_seconds_bucket', { le: '0.25' })).toBe(1);
  expect(await value(m, 'modelroute_time_to_first_token_seconds_bucket', { le: '30' })).toBe(1);
});

test('tokens: one counter with direction input/output', async () => {
  const m = createProxyMetrics();
  m.tokens(rb, 100, 20);
  m.tokens(rb, 5, 1);
  expect(await value(m, 'modelroute_tokens_total', { ...rb, direction: 'input' })).toBe(105);
  expect(await value(m, 'modelroute_tokens_total', { ...rb, direction: 'output' })).toBe(21);
});

test('cost: a USD counter', async () => {
  const m = createProxyMetrics();
  m.cost(rb, 0.0025);
  m.cost(rb, 0.0005);
  expect(await value(m, 'modelroute_cost_usd_total', rb)).toBeCloseTo(0.003, 10);
});

test('retry and fallback counters', async () => {
  const m = createProxyMetrics();
  m.retry({ ...rb, reason: 'status_503' });
  m.retry({ ...rb, reason: 'status_503' });
  m.fallback({ route: 'chat', from: 'gpt-4o', to: 'claude' });
  expect(await value(m, 'modelroute_retries_total', { ...rb, reason: 'status_503' })).toBe(2);
  expect(
    await value(m, 'modelroute_fallbacks_total', { route: 'chat', from: 'gpt-4o', to: 'claude' }),
  ).toBe(1);
});

test('circuit state gauge: 0 closed, 1 half-open, 2 open', async () => {
  const m = createProxyMetrics();
  m.circuitState('a', 'open');
  m.circuitState('b', 'half-open');
  m.circuitState('c', 'closed');
  expect(await value(m, 'modelroute_circuit_state', { backend: 'a' })).toBe(2);
  expect(await value(m, 'modelroute_circuit_state', { backend: 'b' })).toBe(1);
  expect(await value(m, 'modelroute_circuit_state', { backend: 'c' })).toBe(0);
  m.circuitState('a', 'half-open');
  m.circuitState('a', 'closed');
  expect(await value(m, 'modelroute_circuit_state', { backend: 'a' })).toBe(0);
});

test('overhead histogram resolves 50 µs', async () => {
  const m = createProxyMetrics();
  m.overhead(0.00003);
  m.overhead(0.0004);
  expect(OVERHEAD_BUCKETS[0]).toBe(0.00005);
  expect(OVERHEAD_BUCKETS.at(-1)).toBe(0.05);
  expect(await value(m, 'modelroute_proxy_overhead_seconds_bucket', { le: '0.00005' })).toBe(1);
  expect(await value(m, 'modelroute_proxy_overhead_seconds_bucket', { le: '0.0005' })).toBe(2);
  expect(await value(m, 'modelroute_proxy_overhead_seconds_count')).toBe(2);
});

test('routing table info keeps only the current version; loads and rejections are counted', async () => {
  const m = createProxyMetrics();
  m.tableLoaded('v1-abc');
  m.tableLoaded('v2-def');
  const info = await samples(m, 'modelroute_routing_table_info');
  expect(info).toEqual([
    { name: 'modelroute_routing_table_info', labels: { version: 'v2-def' }, value: 1 },
  ]);
  expect(await value(m, 'modelroute_routing_table_loads_total')).toBe(2);

  m.tableRejected('invalid_schema');
  m.tableRejected('invalid_schema');
  m.tableRejected('stale_version');
  expect(
    await value(m, 'modelroute_routing_table_rejections_total', { reason: 'invalid_schema' }),
  ).toBe(2);
  expect(
    await value(m, 'modelroute_routing_table_rejections_total', { reason: 'stale_version' }),
  ).toBe(1);
});

test('a free-text rejection reason is counted as "other" (label cardinality stays bounded)', async () => {
  const m = createProxyMetrics();
  m.tableRejected('spec.rules[0].backendRefs[1]: backend "x" not found');
  m.tableRejected('');
  expect(await value(m, 'modelroute_routing_table_rejections_total', { reason: 'other' })).toBe(2);
});

test('bad numbers are dropped, never thrown into the request path', async () => {
  const m = createProxyMetrics();
  expect(() => {
    m.tokens(rb, -1, Number.NaN);
    m.cost(rb, -0.5);
    m.requestCompleted({ route: 'r', endpoint: 'chat', status: 500, stream: false }, Number.NaN);
    m.overhead(-1);
    m.timeToFirstToken(rb, Number.POSITIVE_INFINITY);
  }).not.toThrow();
  expect(await value(m, 'modelroute_tokens_total', { direction: 'input' })).toBeUndefined();
  expect(await value(m, 'modelroute_requests_total', { code: '500' })).toBe(1);
  expect(
    await value(m, 'modelroute_request_duration_seconds_count', { route: 'r' }),
  ).toBeUndefined();
});

test('wider label objects than declared are accepted (extra fields ignored)', async () => {
  const m = createProxyMetrics();
  const wide = { route: 'chat', backend: 'b', outcome: 'success', attempt: 2 };
  expect(() => m.attemptCompleted(wide, 1)).not.toThrow();
  expect(await value(m, 'modelroute_upstream_attempts_total', { backend: 'b' })).toBe(1);
});

test('two instances do not share counts', async () => {
  const a = createProxyMetrics();
  const b = createProxyMetrics();
  a.retry({ ...rb, reason: 'timeout' });
  a.tableLoaded('va');
  b.tableLoaded('vb');
  expect(await value(a, 'modelroute_retries_total')).toBe(1);
  expect(await value(b, 'modelroute_retries_total')).toBeUndefined();
  expect((await samples(a, 'modelroute_routing_table_info')).map((s) => s.labels.version)).toEqual([
    'va',
  ]);
  expect((await samples(b, 'modelroute_routing_table_info')).map((s) => s.labels.version)).toEqual([
    'vb',
  ]);
});

test('process metrics are included for every instance, once each', async () => {
  const many = Array.from({ length: 20 }, () => createProxyMetrics());
  for (const m of [many[0]!, many[19]!]) {
    const text = await m.render();
    const names = parse(text).map((s) => s.name);
    expect(names).toContain('process_cpu_user_seconds_total');
    expect(names).toContain('nodejs_heap_size_used_bytes');
    // Each metric family appears once: no duplicate HELP/TYPE lines.
    const helps = text.split('\n').filter((l) => l.startsWith('# HELP '));
    expect(new Set(helps).size).toBe(helps.length);
  }
  // The default registry stays untouched (other code may rely on it being empty of ours).
  const { register } = await import('prom-client');
  expect(register.getSingleMetric('modelroute_requests_total')).toBeUndefined();
  expect(register.getSingleMetric('process_cpu_user_seconds_total')).toBeUndefined();
});

test('GenAI client metrics: semconv names, labels and bucket boundaries', async () => {
  const m = createProxyMetrics();
  const call = {
    operation: 'chat',
    provider: 'openai',
    requestModel: 'gpt-4o-mini',
    responseModel: 'gpt-4o-mini',
  };
  const labels = {
    gen_ai_operation_name: 'chat',
    gen_ai_provider_name: 'openai',
    gen_ai_request_model: 'gpt-4o-mini',
    gen_ai_response_model: 'gpt-4o-mini',
  };
  m.genAiTokens(call, 100, 7);
  m.genAiTokens(call, Number.NaN, -1); // dropped, never thrown
  m.genAiOperation(call, 0.3);
  m.genAiOperation(call, 1.5, 'timeout');
  m.genAiTimeToFirstChunk(call, 0.2);
  const usage = await samples(m, 'gen_ai_client_token_usage_sum');
  expect(usage).toEqual([
    {
      name: 'gen_ai_client_token_usage_sum',
      labels: { ...labels, gen_ai_token_type: 'input' },
      value: 100,
    },
    {
      name: 'gen_ai_client_token_usage_sum',
      labels: { ...labels, gen_ai_token_type: 'output' },
      value: 7,
    },
  ]);
  const les = (await samples(m, 'gen_ai_client_token_usage_bucket'))
    .filter((s) => s.labels.gen_ai_token_type === 'input')
    .map((s) => s.labels.le);
  expect(les).toEqual([...GENAI_TOKEN_BUCKETS.map(String), '+Inf']);
  const durations = await samples(m, 'gen_ai_client_operation_duration_seconds_count');
  expect(durations.map((s) => s.labels)).toEqual([labels, { ...labels, error_type: 'timeout' }]);
  expect(await value(m, 'gen_ai_client_operation_time_to_first_chunk_seconds_sum')).toBe(0.2);
});
