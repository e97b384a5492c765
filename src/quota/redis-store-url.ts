// The quota store URL (--quota-store, MODELROUTE_QUOTA_STORE): what is accepted,
// and how it is shown. Apart from the store so the CLI can validate it without
// loading the Redis client.

/** The proxy's environment variable for --quota-store (the chart and the sidecar injector set it). */
export const QUOTA_STORE_ENV = 'MODELROUTE_QUOTA_STORE';

/** The URL for logs and errors: scheme, host, port and db, never the user or password. */
export function describeStoreUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(unparseable quota store URL)';
  }
}

/** Why `url` cannot name a quota store, or undefined when it can. Never repeats the password. */
export function quotaStoreUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'the quota store must be a URL such as redis://redis.quota.svc:6379 or rediss://user:password@host:6380/0';
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    return `the quota store URL must start with redis:// or rediss:// (TLS), not ${u.protocol}//`;
  if (u.hostname === '')
    return 'the quota store URL must name a host, such as redis://redis.quota.svc:6379';
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname))
    return `the quota store URL's path is the database number (such as /0), not ${u.pathname}`;
  return undefined;
}
