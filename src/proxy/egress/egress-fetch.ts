// The fetch token endpoints are called with (STS, OAuth 2, Entra ID, metadata
// servers): through the same forward proxies, with the same NO_PROXY
// exceptions, as the upstream pools. Without proxy settings it is the global
// fetch, unchanged.
import { Agent, Pool, ProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';
import type { EgressProxies } from './proxy-env.js';

export function egressFetch(egress: EgressProxies | undefined): typeof globalThis.fetch {
  if (egress === undefined) return globalThis.fetch;
  const dispatcher = new Agent({
    factory: (origin: string | URL, options: object): Dispatcher => {
      const proxy = egress.proxyFor(String(origin));
      return proxy === undefined
        ? new Pool(origin, options)
        : new ProxyAgent({ ...options, uri: proxy, proxyTunnel: false });
    },
  });
  const fetchThrough = (
    input: Parameters<typeof undiciFetch>[0],
    init?: Parameters<typeof undiciFetch>[1],
  ) => undiciFetch(input, { ...init, dispatcher });
  // undici's Request/Response are the WHATWG ones Node's global fetch also uses.
  return fetchThrough as unknown as typeof globalThis.fetch;
}
