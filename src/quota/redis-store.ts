// Exact mode on a shared Redis or Valkey (`enforcement: exact`, issue 14): every
// admission of an exact key is one atomic check-and-count in the store, so all
// proxies together never pass a limit in any sliding minute.
//
// Why a short Lua script and not a limiter library: rate-limiter-flexible (the
// maintained Node limiter on Redis) counts fixed windows, which admit up to
// twice the limit across a window boundary (a full minute's worth at 0:59 and
// again at 1:00), while providers, and our fleet mode
// (src/proxy/resilience/rate-limiter.ts), count a sliding 60 s window in 1 s
// buckets; it also has no token correction after the response and no leases.
// The script keeps exactly those semantics and runs atomically on the server;
// ioredis caches it (defineCommand: EVALSHA, falling back to EVAL after a
// server restart emptied the script cache).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../telemetry/logger.js';
import type { ExactQuotaStore } from './exact-store.js';
import type { QuotaKey } from './protocol.js';
import { describeStoreUrl, quotaStoreUrlProblem } from './redis-store-url.js';

/** The sliding window, as in src/proxy/resilience/rate-limiter.ts. */
const WINDOW_SECONDS = 60;

/**
 * Check-and-count. KEYS[1]: the window hash (fields r<second> requests and
 * t<second> tokens); KEYS[2]: the concurrency leases (member lease id, score
 * expiry ms). ARGV: now ms (-1: the server's clock), rpm, tpm, maxConcurrency
 * (-1: not limited), tokens, lease ms, lease id.
 * Returns {1, admission second} or {0, retry-after ms}.
 */
const ACQUIRE_LUA = `
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local rpm, tpm, conc = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens, leaseMs = tonumber(ARGV[5]), tonumber(ARGV[6])
local second = math.floor(now / 1000)
local oldest = second - ${WINDOW_SECONDS}
local requests, used = 0, 0
local reqAt, tokAt, seen, seconds, stale = {}, {}, {}, {}, {}
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local field = flat[i]
  local s = tonumber(string.sub(field, 2))
  local v = tonumber(flat[i + 1])
  if s <= oldest then
    stale[#stale + 1] = field
  else
    if string.sub(field, 1, 1) == 'r' then
      requests = requests + v
      reqAt[s] = v
    else
      used = used + v
      tokAt[s] = v
    end
    if not seen[s] then
      seen[s] = true
      seconds[#seconds + 1] = s
    end
  end
end
if #stale > 0 then redis.call('HDEL', KEYS[1], unpack(stale)) end
-- Negative corrections can outweigh what is left of a request in the window.
if used < 0 then used = 0 end
table.sort(seconds)
local wait = 0
-- How long until enough of the oldest buckets leave the window for one more.
local function drain(total, at, need, limit)
  if need > limit then return ${WINDOW_SECONDS * 1000} end
  for _, s in ipairs(seconds) do
    total = total - (at[s] or 0)
    if total + need <= limit then return (s + ${WINDOW_SECONDS}) * 1000 - now end
  end
  return ${WINDOW_SECONDS * 1000}
end
if rpm >= 0 and requests + 1 > rpm then wait = math.max(wait, drain(requests, reqAt, 1, rpm)) end
if tpm >= 0 and used + tokens > tpm then wait = math.max(wait, drain(used, tokAt, tokens, tpm)) end
if conc >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  -- A lease ends when its request does (or it expires): no telling when, so retry in a second.
  if redis.call('ZCARD', KEYS[2]) + 1 > conc then wait = math.max(wait, 1000) end
end
if wait > 0 then return {0, math.max(1, math.ceil(wait))} end
redis.call('HINCRBY', KEYS[1], 'r' .. second, 1)
redis.call('HINCRBY', KEYS[1], 't' .. second, tokens)
redis.call('PEXPIRE', KEYS[1], ${(WINDOW_SECONDS + 1) * 1000})
if conc >= 0 then
  redis.call('ZADD', KEYS[2], now + leaseMs, ARGV[7])
  if redis.call('PTTL', KEYS[2]) < leaseMs + 1000 then
    redis.call('PEXPIRE', KEYS[2], leaseMs + 1000)
  end
end
return {1, second}
`;

/**
 * Release. KEYS as for acquire. ARGV: admission second, token correction,
 * lease id. The correction goes to the admission second's bucket, and is
 * dropped once that second left the window (the tokens no longer count).
 */
const RELEASE_LUA = `
redis.call('ZREM', KEYS[2], ARGV[3])
local delta = tonumber(ARGV[2])
local field = 't' .. ARGV[1]
if delta ~= 0 and redis.call('HEXISTS', KEYS[1], field) == 1 then
  redis.call('HINCRBY', KEYS[1], field, delta)
end
return 1
`;

type AcquireReply = [admitted: 0 | 1, secondOrRetryMs: number];

interface QuotaCommands {
  modelrouteQuotaAcquire(
    windowKey: string,
    leasesKey: string,
    ...args: (string | number)[]
  ): Promise<AcquireReply>;
  modelrouteQuotaRelease(
    windowKey: string,
    leasesKey: string,
    second: number,
    delta: number,
    leaseId: string,
  ): Promise<number>;
}

export interface RedisQuotaStoreOptions {
  logger: Logger;
  /**
   * The clock for windows and leases. Absent (production): the store's own
   * clock (Redis TIME inside the script), one clock for every proxy, so skew
   * between pods cannot widen a window. Tests inject one to drive minutes quickly.
   */
  now?: () => number;
  /** Key prefix; keys are `<namespace>:{<quota key>}:window|leases`. Default `modelroute:quota`. */
  namespace?: string;
  /**
   * How long one store command may take before the admission fails as
   * 'unavailable' (default 200 ms): a hung store must not hold requests.
   */
  commandTimeoutMs?: number;
  /** Lease ids (default random UUIDs). */
  randomId?: () => string;
}

export interface RedisQuotaStore extends ExactQuotaStore {
  /** Resolves once the store answers (or rejects after `timeoutMs`); admissions do not wait for it. */
  ready(timeoutMs: number): Promise<void>;
}

/** Connects to Redis or Valkey at `url` (redis:// or rediss://) in the background and returns the store at once. */
export function createRedisQuotaStore(
  url: string,
  options: RedisQuotaStoreOptions,
): RedisQuotaStore {
  const problem = quotaStoreUrlProblem(url);
  if (problem) throw new Error(problem);
  const where = describeStoreUrl(url);
  const logger = options.logger.child({ component: 'quota-store', store: where });
  const namespace = options.namespace ?? 'modelroute:quota';
  const randomId = options.randomId ?? randomUUID;
  const client = new Redis(url, {
    // Fail fast: a request must not wait on a store that is down. No queue
    // while disconnected, a short command timeout, reconnect in the background.
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs ?? 200,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    lazyConnect: false,
  });
  client.defineCommand('modelrouteQuotaAcquire', { numberOfKeys: 2, lua: ACQUIRE_LUA });
  client.defineCommand('modelrouteQuotaRelease', { numberOfKeys: 2, lua: RELEASE_LUA });
  const commands = client as unknown as QuotaCommands;

  // Log each outage once, and its end, not every reconnect attempt or refused request.
  let closed = false;
  let down = false;
  const markDown = (reason: string) => {
    if (down || closed) return;
    down = true;
    logger.warn('quota store unavailable; exact limits fall back per onStoreUnavailable', {
      error: reason,
    });
  };
  client.on('error', (err: Error) => markDown(err.message));
  client.on('close', () => markDown('connection closed'));
  client.on('ready', () => {
    if (down) logger.info('quota store reachable again');
    down = false;
  });

  const keys = (key: QuotaKey): [string, string] => [
    `${namespace}:{${key}}:window`,
    `${namespace}:{${key}}:leases`,
  ];
  const unavailable = (message: string) =>
    ({
      admitted: false,
      reason: 'unavailable',
      error: `quota store ${where}: ${message}`,
    }) as const;

  return {
    async acquire(key, limits, tokens, leaseMs) {
      if (closed) return unavailable('closed');
      if (client.status !== 'ready') return unavailable(`not connected (${client.status})`);
      const [windowKey, leasesKey] = keys(key);
      const counted = wholeTokens(tokens);
      const leaseId = randomId();
      let reply: AcquireReply;
      try {
        reply = await commands.modelrouteQuotaAcquire(
          windowKey,
          leasesKey,
          options.now ? Math.floor(options.now()) : -1,
          amountArg(limits.rpm),
          amountArg(limits.tpm),
          amountArg(limits.maxConcurrency),
          counted,
          Math.max(1, Math.ceil(leaseMs)),
          leaseId,
        );
      } catch (err) {
        // A timed-out command may still have counted on the server: that only
        // errs on the safe side (counted, not admitted).
        markDown((err as Error).message);
        return unavailable((err as Error).message);
      }
      const [admitted, value] = reply;
      if (admitted !== 1) return { admitted: false, reason: 'limit', retryAfterMs: value };
      let released = false;
      return {
        admitted: true,
        release: (actualTokens?: number) => {
          if (released || closed) return;
          released = true;
          const delta = actualTokens === undefined ? 0 : wholeTokens(actualTokens) - counted;
          // Fire and forget: a lost release only costs a lease until it expires.
          commands
            .modelrouteQuotaRelease(windowKey, leasesKey, value, delta, leaseId)
            .catch((err: Error) =>
              logger.debug('quota release not recorded', { key, error: err.message }),
            );
        },
      };
    },

    async ready(timeoutMs) {
      if (client.status === 'ready') return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          client.off('ready', onReady);
          reject(new Error(`quota store ${where} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        const onReady = () => {
          clearTimeout(timer);
          resolve();
        };
        client.once('ready', onReady);
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
  };
}

/** Limits as script arguments: -1 for "not limited". */
function amountArg(amount: number | undefined): number {
  return amount === undefined || !Number.isFinite(amount) || amount < 0 ? -1 : amount;
}

/** Token counts are whole in the store (HINCRBY); estimates round up so they never undercount. */
function wholeTokens(tokens: number): number {
  return Number.isFinite(tokens) && tokens > 0 ? Math.ceil(tokens) : 0;
}
