// `modelroute proxy`: the sidecar (or gateway) data plane.
import { parseArgs } from 'node:util';
import { startProxy } from '../proxy/proxy.js';
import {
  CREDENTIAL_ORIGINS_ENV,
  parseCredentialBinding,
  type CredentialBinding,
} from '../proxy/credentials.js';
import { createLogger } from '../telemetry/logger.js';
import {
  CREDENTIAL_FLAG_HELP,
  CREDENTIAL_FLAG_OPTIONS,
  resolveCredentialDelivery,
} from './credential-flags.js';
import {
  IDENTITY_FLAG_HELP,
  IDENTITY_FLAG_OPTIONS,
  QUOTA_STORE_FLAG_HELP,
  QUOTA_STORE_FLAG_OPTIONS,
  SERVER_FLAG_HELP,
  SERVER_FLAG_OPTIONS,
  resolveIdentitySettings,
  resolveQuotaStoreUrl,
  resolveServerSettings,
} from './server-flags.js';
import type { RedisQuotaStore } from '../quota/redis-store.js';
import { describeStoreUrl } from '../quota/redis-store-url.js';
import { shutdownSignal } from './shutdown.js';
import type { CommandIO } from './validate.js';

export const PROXY_USAGE = `usage: modelroute proxy [options]

Serves the OpenAI-compatible API and routes each request by the routing table
the controller pushes to the admin port (PUT /admin/v1/table).

${SERVER_FLAG_HELP}
${IDENTITY_FLAG_HELP}
${CREDENTIAL_FLAG_HELP}
${QUOTA_STORE_FLAG_HELP}`;

export async function runProxy(
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
        ...IDENTITY_FLAG_OPTIONS,
        ...CREDENTIAL_FLAG_OPTIONS,
        ...QUOTA_STORE_FLAG_OPTIONS,
      },
      strict: true,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${PROXY_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(PROXY_USAGE);
    return 0;
  }
  const resolved = resolveServerSettings(values, env, {
    port: '8080',
    adminPort: '9901',
    adminHost: '0.0.0.0',
  });
  if (!resolved.ok) {
    io.err(resolved.message);
    return 2;
  }
  const s = resolved.settings;
  const identity = resolveIdentitySettings(values, env, s.host);
  if (!identity.ok) {
    io.err(identity.message);
    return 2;
  }
  const delivery = resolveCredentialDelivery(values, env);
  if (!delivery.ok) {
    io.err(delivery.message);
    return 2;
  }
  const storeUrl = resolveQuotaStoreUrl(values, env);
  if (!storeUrl.ok) {
    io.err(storeUrl.message);
    return 2;
  }
  let credentialBinding: CredentialBinding | undefined;
  const bindingText = env[CREDENTIAL_ORIGINS_ENV];
  if (bindingText !== undefined && bindingText !== '') {
    try {
      credentialBinding = parseCredentialBinding(bindingText);
    } catch (err) {
      io.err((err as Error).message);
      return 2;
    }
  }
  const logger = createLogger({ level: s.logLevel });
  // Connects in the background: until the store answers, exact limits follow
  // their onStoreUnavailable, as in any outage; the proxy starts regardless.
  // The Redis client is loaded only when a store is configured: ~5 MB of heap
  // that most sidecars (no exact-mode limits) would carry for nothing.
  let quotaStore: RedisQuotaStore | undefined;
  if (storeUrl.url !== undefined)
    quotaStore = (await import('../quota/redis-store.js')).createRedisQuotaStore(storeUrl.url, {
      logger,
    });
  let proxy;
  try {
    proxy = await startProxy({
      host: s.host,
      dataPort: s.port,
      adminHost: s.adminHost,
      adminPort: s.adminPort,
      adminToken: { file: s.adminTokenFile, value: s.adminToken, namespace: env.POD_NAMESPACE },
      tableFile: s.tableFile,
      credentialsDir: s.credentialsDir,
      credentialBinding,
      identity: identity.identity,
      namespace: env.POD_NAMESPACE || undefined,
      credentialDelivery: delivery.settings,
      difficultyModelFile: s.difficultyModelFile,
      maxBodyBytes: s.maxBodyBytes,
      headersTimeoutMs: s.headersTimeoutMs,
      requestTimeoutMs: s.requestTimeoutMs,
      clientStallTimeoutMs: s.clientStallTimeoutMs,
      drainMs: s.drainMs,
      otlpEndpoint: s.otlpEndpoint,
      // A gateway is where a platform team looks for its requests; a sidecar's
      // log is its pod's, often shipped and paid for per line: off unless asked.
      accessLog: {
        sampleRate: s.accessLogSampleRate ?? (identity.identity.mode === 'gateway' ? 1 : 0),
      },
      quotaStore,
      logger,
    });
  } catch (err) {
    await quotaStore?.close();
    io.err(`cannot start the proxy: ${(err as Error).message}`);
    return 1;
  }
  logger.info('proxy started', {
    data: proxy.dataUrl,
    admin: proxy.adminUrl,
    tableVersion: proxy.runtime.store.version ?? null,
    identity: identity.identity.mode,
    quotaStore: storeUrl.url === undefined ? null : describeStoreUrl(storeUrl.url),
  });
  const signal = await shutdownSignal();
  logger.info('proxy stopping', { signal });
  await proxy.close();
  await quotaStore?.close();
  return 0;
}
