// Which upstream origins go through an HTTP(S) forward proxy, from the
// standard environment variables: HTTPS_PROXY for https origins, HTTP_PROXY
// for http ones (lower-case names win, as in curl and undici), and NO_PROXY
// exceptions: `*`, host names (which cover their subdomains), `.domain` /
// `*.domain` suffixes, IP addresses and CIDR ranges, each optionally with
// `:port`. Decided once per origin when its pool is made, never per request.
import { BlockList, isIP } from 'node:net';

export interface EgressProxies {
  /** The forward proxy's URL for an origin (scheme://host[:port]), or undefined to connect directly. */
  proxyFor(origin: string): string | undefined;
}

interface NoProxyRule {
  /** Lower-case host or domain suffix (without the leading dot); undefined for IP/CIDR rules. */
  host?: string;
  /** Whether subdomains of `host` match too (always, except for IP literals). */
  suffix: boolean;
  /** An IP address or CIDR range. */
  addresses?: BlockList;
  port?: number;
}

/**
 * The proxies the environment asks for, or undefined when it asks for none
 * (then upstream pools connect directly, exactly as without this module).
 * Throws when a proxy variable is not a URL, naming the variable.
 */
export function egressProxiesFromEnv(env: NodeJS.ProcessEnv): EgressProxies | undefined {
  const https = proxyUrl(env, 'https_proxy');
  const http = proxyUrl(env, 'http_proxy');
  if (https === undefined && http === undefined) return undefined;
  const noProxy = parseNoProxy(env.no_proxy ?? env.NO_PROXY ?? '');
  return {
    proxyFor(origin) {
      const url = new URL(origin);
      const proxy = url.protocol === 'https:' ? https : http;
      if (proxy === undefined) return undefined;
      if (noProxy === 'all') return undefined;
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
      return noProxy.some((rule) => matches(rule, host, port)) ? undefined : proxy;
    },
  };
}

function proxyUrl(env: NodeJS.ProcessEnv, lower: 'https_proxy' | 'http_proxy'): string | undefined {
  const upper = lower.toUpperCase();
  const name = env[lower] ? lower : upper;
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  // `proxy.corp:3128` is common: it means http://proxy.corp:3128.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(
      `${name} is not a URL (${redactUserinfo(raw)}): set it to http://host:port of the forward proxy, or unset it`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(
      `${name} must be an http:// or https:// proxy URL, not ${url.protocol}//: set it to http://host:port`,
    );
  return url.href;
}

/** `user:pass@` of a proxy URL never reaches a message. */
function redactUserinfo(raw: string): string {
  return raw.replace(/\/\/[^/@]*@/, '//***@');
}

export function parseNoProxy(text: string): NoProxyRule[] | 'all' {
  const rules: NoProxyRule[] = [];
  for (const entry of text.split(/[\s,]+/).filter((e) => e !== '')) {
    if (entry === '*') return 'all';
    const rule = parseRule(entry.toLowerCase());
    if (rule) rules.push(rule);
  }
  return rules;
}

function parseRule(entry: string): NoProxyRule | undefined {
  let hostPart = entry;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    hostPart = bracketed[1] as string;
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if (isIP(entry) !== 6 && !entry.includes('/')) {
    const withPort = /^(.*):(\d+)$/.exec(entry);
    if (withPort) {
      hostPart = withPort[1] as string;
      port = Number(withPort[2]);
    }
  }
  const portPart = port === undefined ? {} : { port };
  const cidr = /^(.+)\/(\d{1,3})$/.exec(hostPart);
  if (cidr) {
    const family = isIP(cidr[1] as string);
    if (family === 0) return undefined;
    const addresses = new BlockList();
    addresses.addSubnet(cidr[1] as string, Number(cidr[2]), family === 6 ? 'ipv6' : 'ipv4');
    return { suffix: false, addresses, ...portPart };
  }
  const family = isIP(hostPart);
  if (family !== 0) {
    const addresses = new BlockList();
    addresses.addAddress(hostPart, family === 6 ? 'ipv6' : 'ipv4');
    return { suffix: false, addresses, ...portPart };
  }
  const host = hostPart.replace(/^\*?\./, '');
  if (host === '') return undefined;
  return { host, suffix: true, ...portPart };
}

function matches(rule: NoProxyRule, host: string, port: number): boolean {
  if (rule.port !== undefined && rule.port !== port) return false;
  if (rule.addresses) {
    const family = isIP(host);
    return family !== 0 && rule.addresses.check(host, family === 6 ? 'ipv6' : 'ipv4');
  }
  const ruleHost = rule.host as string;
  return host === ruleHost || (rule.suffix && host.endsWith(`.${ruleHost}`));
}
