// Splits an adapter's upstream URL into what the connection pool needs
// (origin, path) and what tracing reports (host, port), remembering the
// answer: a backend's URLs are few and fixed, and `new URL()` on every
// attempt showed up in CPU profiles of the hot path.

export interface UpstreamTarget {
  /** scheme://host[:port], the key of the connection pool. */
  origin: string;
  /** Path and query string, as sent in the request line. */
  path: string;
  hostname: string;
  port: number | undefined;
}

/** Enough for every backend × endpoint of any sane table; past it the cache starts afresh. */
const MAX_CACHED = 1024;

export class UpstreamTargets {
  private readonly byUrl = new Map<string, UpstreamTarget>();

  /** Throws (as `new URL` does) on a malformed URL. */
  resolve(url: string): UpstreamTarget {
    let target = this.byUrl.get(url);
    if (target === undefined) {
      const parsed = new URL(url);
      target = {
        origin: parsed.origin,
        path: parsed.pathname + parsed.search,
        hostname: parsed.hostname,
        port: parsed.port ? Number(parsed.port) : undefined,
      };
      if (this.byUrl.size >= MAX_CACHED) this.byUrl.clear();
      this.byUrl.set(url, target);
    }
    return target;
  }
}
