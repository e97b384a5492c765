// `modelroute dev`: local mode — the samples (or your manifests) served by a
// real proxy in front of simulated backends, no cluster and no keys needed.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDevMode, type DevModeOptions } from '../proxy/local/dev-mode.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import {
  SERVER_FLAG_HELP,
  SERVER_FLAG_OPTIONS,
  TENANT_FLAG_HELP,
  TENANT_FLAG_OPTIONS,
  resolveIdentitySettings,
  resolveServerSettings,
  type ServerSettings,
} from './server-flags.js';
import { shutdownSignal } from './shutdown.js';
import type { CommandIO } from './validate.js';

export const DEV_USAGE = `usage: modelroute dev [--config DIR|FILE ...] [--simulate] [options]

Runs the proxy locally on ModelRoute/ModelBackend YAML (default: the samples
shipped in manifests/samples). Backends whose endpoint is simulate://... are
served by built-in simulated models; --simulate simulates every backend.

  --config P               manifests to load (repeatable; default manifests/samples)
  --simulate               simulate every backend, not only simulate:// ones
${TENANT_FLAG_HELP}
${SERVER_FLAG_HELP}`;

const SAMPLES = join(import.meta.dirname, '..', '..', 'manifests', 'samples');

/**
 * What `dev` hands local mode. Every server flag is passed on: `dev` once
 * accepted --max-body-bytes, --headers-timeout and --request-timeout and
 * dropped them, so local mode ran with the defaults whatever was asked.
 */
export function devModeOptions(
  s: ServerSettings,
  flags: {
    config?: string[] | undefined;
    simulate?: boolean | undefined;
    tenant?: string | undefined;
  },
  logger: Logger,
): DevModeOptions {
  return {
    tenant: flags.tenant,
    configPaths: flags.config ?? [SAMPLES],
    simulateAll: flags.simulate ?? false,
    host: s.host,
    dataPort: s.port,
    adminPort: s.adminPort,
    adminToken: { file: s.adminTokenFile, value: s.adminToken },
    otlpEndpoint: s.otlpEndpoint,
    accessLog: { sampleRate: s.accessLogSampleRate ?? 1 },
    credentialsDir: s.credentialsDir,
    difficultyModelFile: s.difficultyModelFile,
    maxBodyBytes: s.maxBodyBytes,
    headersTimeoutMs: s.headersTimeoutMs,
    requestTimeoutMs: s.requestTimeoutMs,
    clientStallTimeoutMs: s.clientStallTimeoutMs,
    logger,
  };
}

export async function runDev(
  argv: string[],
  io: CommandIO,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        ...SERVER_FLAG_OPTIONS,
        ...TENANT_FLAG_OPTIONS,
        config: { type: 'string', multiple: true },
        simulate: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${DEV_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(DEV_USAGE);
    return 0;
  }
  const resolved = resolveServerSettings(values, env, {
    port: '8080',
    adminPort: '0',
    adminHost: '127.0.0.1',
  });
  if (!resolved.ok) {
    io.err(resolved.message);
    return 2;
  }
  const s = resolved.settings;
  // Local mode only: `dev` has no --identity, so MODELROUTE_IDENTITY does not apply either.
  const identity = resolveIdentitySettings(
    { identity: 'local', tenant: values.tenant },
    env,
    s.host,
  );
  if (!identity.ok) {
    io.err(identity.message);
    return 2;
  }
  const tenant = identity.identity.mode === 'local' ? identity.identity.tenant : undefined;
  const logger = createLogger({ level: s.logLevel });
  let dev;
  try {
    dev = await startDevMode(
      devModeOptions(s, { config: values.config, simulate: values.simulate, tenant }, logger),
    );
  } catch (err) {
    io.err(`modelroute dev: ${(err as Error).message}`);
    return 1;
  }
  const model = dev.models[0] ?? 'chat';
  io.out(
    [
      `modelroute dev: serving ${dev.models.length} model(s) [${dev.models.join(', ')}] on ${dev.proxy.dataUrl}`,
      `  ${dev.simulators.size} simulated backend(s); admin, metrics and stats on ${dev.proxy.adminUrl}`,
      '',
      'Try it:',
      `  curl -sS ${dev.proxy.dataUrl}/v1/chat/completions -H 'content-type: application/json' \\`,
      `    -d '{"model":"${model}","messages":[{"role":"user","content":"Prove that there are infinitely many primes."}]}' -D - `,
      '',
      `Or point any OpenAI client at ${dev.proxy.dataUrl}/v1 (any API key). Ctrl-C stops.`,
      tenant
        ? `Requests are served as tenant ${tenant}; a virtual key (mr-...) from the manifests calls as its own tenant.`
        : 'Requests are served as the default tenant: pass --tenant NAME, or a virtual key (mr-...) from the manifests, to call as a tenant.',
    ].join('\n'),
  );
  await shutdownSignal();
  await dev.close();
  return 0;
}
