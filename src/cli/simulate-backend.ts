// `modelroute simulate-backend`: runs the simulated model server in the foreground until SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DURATION_PATTERN, durationToMs } from '../api/v1alpha1/common.js';
import {
  simulatorOptions,
  startSimulatedBackend,
  type SimulatorOptions,
} from '../simulator/index.js';
import { serviceAccountOfKey } from '../simulator/vertex-auth.js';

export const SIMULATE_BACKEND_USAGE = `usage: modelroute simulate-backend [options]

Serves a simulated OpenAI-compatible model API (also the Azure OpenAI,
Anthropic Messages, AWS Bedrock runtime and Vertex AI paths) on loopback, for local
mode, tests and benchmarks.
Prints {"url":...,"models":[...]} on one line once listening.

options:
  --host HOST                  listen address (default 127.0.0.1)
  --port N                     listen port (default 0 = a random free port)
  --model NAME                 model listed by /v1/models (repeatable; default sim-model)
  --latency DURATION           delay before a buffered answer, e.g. 50ms
  --ttft DURATION              delay before the first streamed chunk
  --tps N                      streamed tokens per second (0 = as fast as possible)
  --output-tokens N            completion tokens per answer (default 16)
  --error-rate R               share of requests answered with --error-status (0..1)
  --error-status CODE          status of those errors (default 500)
  --status-sequence A,B,...    statuses of the first requests, e.g. 503,503,200
  --retry-after SECONDS        Retry-After sent with 429 and 503 answers
  --stall DURATION|forever     hold every request this long before any byte
  --cut-after N                cut streams abruptly after N content tokens
  --require-api-key-env NAME   require the API key held in environment variable NAME
  --aws-keys-env ID,SECRET     Bedrock paths check SigV4 against the AWS access key in
                               environment variables ID and SECRET (default: not checked)
  --google-auth                Vertex AI paths take only Google access tokens it issued (from its
                               metadata server endpoint or its token endpoint POST /token)
  --google-key FILE            with --google-auth implied: its token endpoint accepts JWT
                               assertions of the service account JSON key in FILE
  --seed N                     seed for the error rate and the generated text (default 1)
  --quality-data CSV           answer known prompts with the quality recorded in CSV
                               (a "prompt" column); answers start with a marker like ⟦q=1⟧
  --quality-column NAME        the CSV column of this backend's 0/1 outcomes (with --quality-data)
  --quality-default Q          quality marked on prompts the CSV does not list (default 0.5)
  --judge                      act as a pairwise judge: answer [[A]], [[B]] or [[C]] by the
                               quality markers of the two answers in the judge prompt
  --judge-bias P               with --judge: share of verdicts that say [[A]] regardless
                               (position bias), seeded by --seed
  -h, --help                   show this help`;

interface IO {
  out: (line: string) => void;
  err: (line: string) => void;
}

type Kind = 'number' | 'duration' | 'stall' | 'statuses';

/** Each value flag: the option it sets, how to read it, and what it expects (for error messages). */
const FLAGS: { flag: string; field: keyof SimulatorOptions; kind: Kind; expected: string }[] = [
  { flag: 'port', field: 'port', kind: 'number', expected: 'a port number 0..65535' },
  {
    flag: 'latency',
    field: 'latencyMs',
    kind: 'duration',
    expected: 'a duration such as "50ms" or "1s"',
  },
  {
    flag: 'ttft',
    field: 'ttftMs',
    kind: 'duration',
    expected: 'a duration such as "200ms" or "1s"',
  },
  {
    flag: 'tps',
    field: 'tokensPerSecond',
    kind: 'number',
    expected: 'tokens per second, a number >= 0',
  },
  {
    flag: 'output-tokens',
    field: 'outputTokens',
    kind: 'number',
    expected: 'a whole number of tokens >= 0',
  },
  {
    flag: 'error-rate',
    field: 'errorRate',
    kind: 'number',
    expected: 'a fraction between 0 and 1',
  },
  {
    flag: 'error-status',
    field: 'errorStatus',
    kind: 'number',
    expected: 'an HTTP status 400..599',
  },
  {
    flag: 'status-sequence',
    field: 'statusSequence',
    kind: 'statuses',
    expected: 'comma-separated statuses, each 200 or 400..599, like 503,503,200',
  },
  {
    flag: 'retry-after',
    field: 'retryAfterSeconds',
    kind: 'number',
    expected: 'whole seconds >= 0',
  },
  {
    flag: 'stall',
    field: 'stallMs',
    kind: 'stall',
    expected: 'a duration such as "500ms" or "2s", or "forever"',
  },
  {
    flag: 'cut-after',
    field: 'cutAfterTokens',
    kind: 'number',
    expected: 'a whole number of tokens >= 0',
  },
  { flag: 'seed', field: 'seed', kind: 'number', expected: 'an integer' },
  {
    flag: 'quality-default',
    field: 'qualityDefault',
    kind: 'number',
    expected: 'a number (the quality of unlisted prompts)',
  },
  {
    flag: 'judge-bias',
    field: 'judgePositionBias',
    kind: 'number',
    expected: 'a fraction between 0 and 1',
  },
];

/** Flags whose text is the option's value as it is. */
const TEXT_FLAGS: { flag: string; field: keyof SimulatorOptions }[] = [
  { flag: 'host', field: 'host' },
  { flag: 'quality-data', field: 'qualityData' },
  { flag: 'quality-column', field: 'qualityColumn' },
];

/** Converts one flag's text; undefined when it cannot be read as its kind. */
function convert(kind: Kind, value: string): number | number[] | undefined {
  const asNumber = (text: string): number | undefined => {
    const n = Number(text);
    return text.trim() === '' || !Number.isFinite(n) ? undefined : n;
  };
  switch (kind) {
    case 'number':
      return asNumber(value);
    case 'stall':
    case 'duration':
      if (kind === 'stall' && value === 'forever') return Infinity;
      if (value === '0') return 0;
      return DURATION_PATTERN.test(value) ? durationToMs(value) : undefined;
    case 'statuses': {
      const statuses = value.split(',').map((s) => asNumber(s.trim()));
      return statuses.every((s) => s !== undefined) ? statuses : undefined;
    }
  }
}

type Values = Record<string, string | string[] | boolean | undefined>;

/**
 * Turns parsed flags into SimulatorOptions, converting units (ranges are left
 * to the schema); every unreadable flag is reported, not just the first.
 */
function toOptions(
  values: Values,
  env: NodeJS.ProcessEnv,
): { options: SimulatorOptions; errors: string[] } {
  const options: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const { flag, field } of TEXT_FLAGS) {
    const value = values[flag];
    if (typeof value === 'string') options[field] = value;
  }
  if (Array.isArray(values.model)) options.models = values.model;
  if (values.judge === true) options.judge = true;
  for (const { flag, field, kind, expected } of FLAGS) {
    const value = values[flag];
    if (typeof value !== 'string') continue;
    const converted = convert(kind, value);
    if (converted === undefined) errors.push(`--${flag}: expected ${expected}, got "${value}"`);
    else options[field] = converted;
  }
  const keyEnv = values['require-api-key-env'];
  if (typeof keyEnv === 'string') {
    const key = env[keyEnv];
    if (key === undefined || key === '') {
      errors.push(`--require-api-key-env: environment variable ${keyEnv} is not set or empty`);
    } else {
      options.requireApiKey = key;
    }
  }
  const awsEnv = values['aws-keys-env'];
  if (typeof awsEnv === 'string') {
    const [idVar = '', secretVar = '', ...rest] = awsEnv.split(',');
    const accessKeyId = env[idVar];
    const secretAccessKey = env[secretVar];
    if (rest.length > 0 || !accessKeyId || !secretAccessKey) {
      errors.push(
        `--aws-keys-env: expected ID_VAR,SECRET_VAR naming two set environment variables, got "${awsEnv}"`,
      );
    } else {
      options.aws = { accessKeys: [{ accessKeyId, secretAccessKey }] };
    }
  }
  if (values['google-auth'] === true) options.google = {};
  const googleKey = values['google-key'];
  if (typeof googleKey === 'string') {
    try {
      options.google = { serviceAccounts: [serviceAccountOfKey(readFileSync(googleKey, 'utf8'))] };
    } catch (err) {
      errors.push(`--google-key: ${googleKey}: ${(err as Error).message}`);
    }
  }
  return { options: options, errors };
}

/** The message for a schema issue, naming the flag the user typed. */
function describeIssue(field: string, message: string, options: SimulatorOptions): string {
  if (field === 'requireApiKey') return `--require-api-key-env: ${message}`;
  if (field === 'models') return `--model: ${message}`;
  if (field === 'judge') return `--judge: ${message}`;
  if (field === 'aws') return `--aws-keys-env: ${message}`;
  if (field === 'google') return `--google-key: ${message}`;
  const text = TEXT_FLAGS.find((f) => f.field === field);
  if (text) return `--${text.flag}: ${message}`;
  const spec = FLAGS.find((f) => f.field === field);
  if (!spec) return `${field}: ${message}`;
  const got = JSON.stringify(options[field as keyof SimulatorOptions]);
  return `--${spec.flag}: expected ${spec.expected} (${message}; got ${got})`;
}

/**
 * Runs until SIGINT/SIGTERM (or `stop` aborts, for tests and embedding), then
 * closes the server and resolves 0. Bad flags: 2. Cannot start (listen, read --quality-data): 1.
 */
export async function runSimulateBackend(
  argv: string[],
  io: IO,
  stop?: AbortSignal,
): Promise<number> {
  let values: Values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        model: { type: 'string', multiple: true },
        latency: { type: 'string' },
        ttft: { type: 'string' },
        tps: { type: 'string' },
        'output-tokens': { type: 'string' },
        'error-rate': { type: 'string' },
        'error-status': { type: 'string' },
        'status-sequence': { type: 'string' },
        'retry-after': { type: 'string' },
        stall: { type: 'string' },
        'cut-after': { type: 'string' },
        'require-api-key-env': { type: 'string' },
        'aws-keys-env': { type: 'string' },
        'google-auth': { type: 'boolean' },
        'google-key': { type: 'string' },
        seed: { type: 'string' },
        'quality-data': { type: 'string' },
        'quality-column': { type: 'string' },
        'quality-default': { type: 'string' },
        judge: { type: 'boolean' },
        'judge-bias': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${SIMULATE_BACKEND_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.out(SIMULATE_BACKEND_USAGE);
    return 0;
  }

  const { options, errors } = toOptions(values, process.env);
  if (errors.length > 0) {
    for (const line of errors) io.err(line);
    return 2;
  }
  const checked = simulatorOptions.safeParse(options);
  if (!checked.success) {
    for (const issue of checked.error.issues) {
      io.err(describeIssue(String(issue.path[0] ?? ''), issue.message, options));
    }
    return 2;
  }

  let backend;
  try {
    backend = await startSimulatedBackend(checked.data);
  } catch (err) {
    io.err(`simulate-backend: cannot start: ${(err as Error).message}`);
    return 1;
  }
  io.out(JSON.stringify({ url: backend.url, models: checked.data.models ?? ['sim-model'] }));

  await new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      stop?.removeEventListener('abort', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (stop?.aborted) done();
    else stop?.addEventListener('abort', done);
  });
  await backend.close();
  return 0;
}
