// One keep-alive connection pool per upstream origin (undici), shared by all
// requests, so the hot path never pays for a new TCP/TLS handshake.
import { Pool } from 'undici';

export interface UpstreamPoolOptions {
  /** Connections per origin. */
  connections?: number;
  keepAliveTimeoutMs?: number;
}

export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly options: UpstreamPoolOptions = {}) {}

  /** The pool for an origin and connect timeout (pools differ when backends' connect timeouts do). */
  get(origin: string, connectTimeoutMs: number): Pool {
    const key = `${origin}|${connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.options.connections ?? 256,
        pipelining: 1,
        keepAliveTimeout: this.options.keepAliveTimeoutMs ?? 30_000,
        connect: { timeout: connectTimeoutMs },
        // Our own timers decide first-token and total timeouts (see forward.ts).
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }
}
