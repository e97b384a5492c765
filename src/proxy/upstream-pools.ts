// One keep-alive connection pool per upstream origin (undici), shared by all
// requests, so the hot path never pays for a new TCP/TLS handshake. Pools
// also differ by connect timeout and by TLS material (a backend's CA bundle,
// client certificate, server name), so backends with different TLS settings
// never share a connection. An origin the environment sends through a
// forward proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) gets a pool that goes
// through it (CONNECT tunnels for https); decided once, when the pool is made.
import { Pool, ProxyAgent, type Dispatcher } from 'undici';
import type { CompiledBackend } from '../routing/table.js';
import type { BackendTls, TlsMaterial } from './egress/backend-tls.js';
import type { EgressProxies } from './egress/proxy-env.js';

export interface UpstreamPoolOptions {
  /** Connections per origin. */
  connections?: number;
  keepAliveTimeoutMs?: number;
  /** Forward proxies from the environment; undefined: every origin is connected to directly. */
  egress?: EgressProxies | undefined;
  /** Backends' TLS material (spec.tls); undefined: system CAs for every backend. */
  tls?: BackendTls | undefined;
}

export class UpstreamPools {
  private readonly pools = new Map<string, Dispatcher>();
  /** `<backend id>|<origin>|<timeout>` -> the key of its TLS pool, to close pools left behind. */
  private readonly tlsPoolOf = new Map<string, string>();

  constructor(private readonly options: UpstreamPoolOptions = {}) {}

  /**
   * The pool for a call to a backend at `origin` (one of its URLs), with its
   * TLS material. Throws BackendTlsError when that material cannot be had.
   */
  forBackend(backend: CompiledBackend, origin: string, connectTimeoutMs: number): Dispatcher {
    if (backend.tls === undefined) return this.get(origin, connectTimeoutMs);
    const tls = this.options.tls?.materialFor(backend);
    if (tls !== undefined) this.retire(backend.id, origin, connectTimeoutMs, tls);
    return this.get(origin, connectTimeoutMs, tls);
  }

  /**
   * Rotated material (or new settings) makes a new pool: the old one is
   * closed, gracefully (calls on it finish), once no backend uses it.
   */
  private retire(
    backendId: string,
    origin: string,
    connectTimeoutMs: number,
    tls: TlsMaterial,
  ): void {
    const use = `${backendId}|${origin}|${connectTimeoutMs}`;
    const key = poolKey(origin, connectTimeoutMs, tls);
    const previous = this.tlsPoolOf.get(use);
    if (previous === key) return;
    this.tlsPoolOf.set(use, key);
    if (previous === undefined || [...this.tlsPoolOf.values()].includes(previous)) return;
    const pool = this.pools.get(previous);
    this.pools.delete(previous);
    void pool?.close().catch(() => undefined);
  }

  /**
   * The pool for an origin, connect timeout and TLS material. Requests on it
   * name their `origin` too (a tunnelling pool serves it by origin).
   */
  get(origin: string, connectTimeoutMs: number, tls?: TlsMaterial): Dispatcher {
    const key = poolKey(origin, connectTimeoutMs, tls);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = this.create(origin, connectTimeoutMs, tls);
      this.pools.set(key, pool);
    }
    return pool;
  }

  private create(
    origin: string,
    connectTimeoutMs: number,
    tls: TlsMaterial | undefined,
  ): Dispatcher {
    const shared = {
      connections: this.options.connections ?? 256,
      pipelining: 1,
      keepAliveTimeout: this.options.keepAliveTimeoutMs ?? 30_000,
      // Our own timers decide first-token and total timeouts (see forward.ts).
      headersTimeout: 0,
      bodyTimeout: 0,
    };
    const connect = { timeout: connectTimeoutMs, ...tls?.connect };
    const proxy = this.options.egress?.proxyFor(origin);
    if (proxy === undefined) return new Pool(origin, { ...shared, connect });
    return new ProxyAgent({
      ...shared,
      uri: proxy,
      // https origins tunnel (CONNECT); http ones are sent to the proxy in
      // absolute form, as proxies expect (many allow CONNECT to 443 only).
      proxyTunnel: false,
      requestTls: connect,
      proxyTls: { timeout: connectTimeoutMs },
    });
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }
}

function poolKey(origin: string, connectTimeoutMs: number, tls: TlsMaterial | undefined): string {
  return tls === undefined
    ? `${origin}|${connectTimeoutMs}`
    : `${origin}|${connectTimeoutMs}|${tls.key}`;
}
