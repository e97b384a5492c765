// Open-loop traffic through the proxies: every request is sent at its
// scheduled time whatever the answers do (refusals come back fast, and a
// closed loop would then send more), and each outcome is kept with the error
// code the proxy answered, so admitted, shed and refused can be told apart.
import { Pool } from 'undici';
import { z } from 'zod';

const REQUEST_TIMEOUT_MS = 30_000;
/** Requests in flight beyond this are not sent (counted as dropped): bounds memory if a proxy stalls. */
const MAX_IN_FLIGHT = 2_000;

export interface Stream {
  /** What the outcome is filed under, e.g. "rpm" or "priority-high". */
  label: string;
  /** The proxy's data URL, e.g. http://127.0.0.2:41000. */
  dataUrl: string;
  /** The JSON body sent (the route is chosen by its model). */
  body: string;
  /** A virtual API key naming the tenant; absent: the proxy's default tenant. */
  apiKey?: string | undefined;
  /** Offsets in ms from the run's start, ascending. */
  arrivals: readonly number[];
}

export interface Outcome {
  label: string;
  /** Wall-clock time the request was due. */
  dueAtMs: number;
  /** HTTP status; 0 for a transport error or timeout. */
  status: number;
  /** `error.code` of an error answer, e.g. capacity_shed, budget_exceeded. */
  code?: string | undefined;
  /** The backend that answered (x-modelroute-backend), on a 200. */
  backend?: string | undefined;
  /** From the due time to the end of the answer (a late send counts against the path). */
  latencyMs: number;
}

const errorBody = z.looseObject({
  error: z.looseObject({ code: z.string().nullish(), type: z.string().nullish() }),
});

function errorCode(text: string): string | undefined {
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    return parsed.success
      ? (parsed.data.error.code ?? parsed.data.error.type ?? undefined)
      : undefined;
  } catch {
    return undefined;
  }
}

/** One pool per proxy, shared by every stream sent to it. */
export class ProxyClients {
  private readonly pools = new Map<string, Pool>();

  pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
    this.pools.clear();
  }
}

async function send(
  clients: ProxyClients,
  stream: Stream,
  dueNs: bigint,
  dueAtMs: number,
): Promise<Outcome> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (stream.apiKey !== undefined) headers.authorization = `Bearer ${stream.apiKey}`;
  const latency = () => Number(process.hrtime.bigint() - dueNs) / 1e6;
  try {
    const res = await clients.pool(stream.dataUrl).request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers,
      body: stream.body,
    });
    const text = await res.body.text();
    const backend = res.headers['x-modelroute-backend'];
    return {
      label: stream.label,
      dueAtMs,
      status: res.statusCode,
      code: res.statusCode === 200 ? undefined : errorCode(text),
      backend: typeof backend === 'string' ? backend : undefined,
      latencyMs: latency(),
    };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return {
      label: stream.label,
      dueAtMs,
      status: 0,
      code: typeof code === 'string' ? code : 'transport_error',
      latencyMs: latency(),
    };
  }
}

export interface TrafficRun {
  /** Wall-clock start (ms): arrival offsets count from here. */
  startedAtMs: number;
  outcomes: Outcome[];
  /** Requests not sent because MAX_IN_FLIGHT were already waiting. */
  dropped: number;
}

/**
 * Sends every stream's arrivals at their times, from one scheduler (a timer
 * per request would cost more than the requests), and resolves once every
 * answer is in.
 */
export function runTraffic(clients: ProxyClients, streams: readonly Stream[]): Promise<TrafficRun> {
  const events: { at: number; stream: Stream }[] = [];
  for (const stream of streams) for (const at of stream.arrivals) events.push({ at, stream });
  events.sort((a, b) => a.at - b.at);
  const startNs = process.hrtime.bigint();
  const startedAtMs = Date.now();
  const outcomes: Outcome[] = [];
  let next = 0;
  let inFlight = 0;
  let dropped = 0;
  return new Promise((resolve) => {
    const finishIfDone = (): void => {
      if (next === events.length && inFlight === 0) resolve({ startedAtMs, outcomes, dropped });
    };
    const tick = (): void => {
      const elapsedMs = Number(process.hrtime.bigint() - startNs) / 1e6;
      while (next < events.length && (events[next] as { at: number }).at <= elapsedMs) {
        const { at, stream } = events[next++] as { at: number; stream: Stream };
        if (inFlight >= MAX_IN_FLIGHT) {
          dropped++;
          continue;
        }
        inFlight++;
        const dueNs = startNs + BigInt(Math.round(at * 1e6));
        void send(clients, stream, dueNs, startedAtMs + at).then((outcome) => {
          inFlight--;
          outcomes.push(outcome);
          finishIfDone();
        });
      }
      if (next < events.length) {
        const waitMs = (events[next] as { at: number }).at - elapsedMs;
        setTimeout(tick, Math.max(0, Math.floor(waitMs)));
      } else finishIfDone();
    };
    tick();
  });
}

/** Counts of outcomes by what happened: 200 by backend, or the status and error code. */
export function outcomeCounts(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key =
      o.status === 200
        ? `200 ${o.backend ?? '(backend not named)'}`
        : `${o.status}${o.code ? ` ${o.code}` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
