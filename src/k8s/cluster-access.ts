// Where the API server is and how to authenticate to it, from a kubeconfig or
// the pod's ServiceAccount, without @kubernetes/client-node: importing that
// library (its KubeConfig pulls in the whole generated API) took a bare Node
// from 41 to 119-124 MB RSS, against the controller's 150 MB budget. The
// common cases are read here: server, CA, insecure-skip-tls-verify,
// tls-server-name, a token or token file, a client certificate and key. Any
// other kind of user or cluster (exec plugins, auth-provider, basic auth,
// proxy-url, impersonation) is handed to client-node (cluster-access-fallback.ts).
import { readFile } from 'node:fs/promises';
import type https from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import {
  KubeconfigError,
  mergeKubeconfigs,
  readKubeconfig,
  type KubeconfigEntry,
  type KubeconfigFile,
} from './kubeconfig-file.js';

export interface ClusterAccess {
  /** The API server's base URL, no trailing slash. */
  readonly server: string;
  /**
   * TLS settings and the Authorization header for one request. Files are
   * read each time, so a rotated ServiceAccount token or certificate is used.
   */
  requestOptions(): Promise<https.RequestOptions>;
}

export interface ClusterAccessOptions {
  /** A kubeconfig file; default KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount. */
  kubeconfigPath?: string | undefined;
  /** A context of that kubeconfig (as kubectl's --context); default its current context. */
  context?: string | undefined;
}

/** Where the defaults are looked for; tests point these at a temporary directory. */
export interface KubeconfigPlaces {
  env: Readonly<Record<string, string | undefined>>;
  homeDir: string | undefined;
  serviceAccountDir: string;
}

export const defaultPlaces = (): KubeconfigPlaces => ({
  env: process.env,
  homeDir: process.env.HOME || homedir() || undefined,
  serviceAccountDir: '/var/run/secrets/kubernetes.io/serviceaccount',
});

export type AccessChoice =
  | { kind: 'ready'; access: ClusterAccess; from: string }
  /** Only client-node can authenticate this user or reach this cluster. */
  | { kind: 'client-node'; reason: string };

const IN_CLUSTER_CONTEXT = 'inClusterContext';

type Source = { data: Buffer } | { file: string };

interface Resolved {
  server: string;
  ca?: Source | undefined;
  insecure: boolean;
  tlsServerName?: string | undefined;
  token?: Source | undefined;
  cert?: Source | undefined;
  key?: Source | undefined;
}

const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/=\s]+$/, 'is not base64 (paste the output of base64 -w0 FILE)');

const clusterFields = z.strictObject({
  server: z
    .string({ error: 'is missing: set it to the API server URL, e.g. https://10.0.0.1:6443' })
    .regex(/^https?:\/\/[^/]/, 'is not an http(s) URL such as https://10.0.0.1:6443'),
  'certificate-authority': z.string().min(1).optional(),
  'certificate-authority-data': base64.optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
  'tls-server-name': z.string().min(1).optional(),
  extensions: z.unknown().optional(),
});

const userFields = z.strictObject({
  token: z.string().min(1).optional(),
  tokenFile: z.string().min(1).optional(),
  'token-file': z.string().min(1).optional(),
  'client-certificate': z.string().min(1).optional(),
  'client-certificate-data': base64.optional(),
  'client-key': z.string().min(1).optional(),
  'client-key-data': base64.optional(),
  extensions: z.unknown().optional(),
});

const contextFields = z.looseObject({
  cluster: z.string({ error: 'is missing: name one of the clusters' }).min(1),
  user: z.string().optional(),
});

/** Fields some other kind of authentication or transport needs: only client-node knows them. */
const unsupported = (fields: Record<string, unknown>, supported: z.ZodObject): string[] =>
  Object.keys(fields).filter((k) => !(k in supported.shape) && fields[k] !== undefined);

function checked<T extends z.ZodType>(
  schema: T,
  fields: unknown,
  what: string,
  where: string,
): z.output<T> {
  const parsed = schema.safeParse(fields);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') || '(entry)';
  throw new KubeconfigError(`${what} in kubeconfig ${where}: ${field} ${issue?.message ?? ''}`);
}

const fileSource = (path: string, dir: string): Source => ({
  file: isAbsolute(path) ? path : resolve(dir, path),
});

/** client-node's rule, kept: a file wins over inline data when both are set. */
const sourceOf = (file: string | undefined, data: string | undefined, dir: string) =>
  file !== undefined
    ? fileSource(file, dir)
    : data !== undefined
      ? { data: Buffer.from(data, 'base64') }
      : undefined;

function findEntry(
  entries: readonly KubeconfigEntry[],
  name: string,
  what: string,
  config: KubeconfigFile,
  context: string,
): KubeconfigEntry {
  const entry = entries.find((e) => e.name === name);
  if (!entry) {
    throw new KubeconfigError(
      `context "${context}" in kubeconfig ${config.path} names ${what} "${name}", which it does not define; add it under ${what === 'cluster' ? 'clusters' : 'users'}, or fix the context`,
    );
  }
  return entry;
}

function contextNotFound(config: KubeconfigFile, context: string): KubeconfigError {
  const known = config.contexts.map((c) => c.name);
  return new KubeconfigError(
    `the kubeconfig has no context "${context}"${known.length > 0 ? ` (it has: ${known.join(', ')})` : ''}; 'kubectl config get-contexts' lists them`,
  );
}

/** The cluster and user of `context` (default the current one), or why only client-node can use them. */
export function resolveKubeconfig(
  config: KubeconfigFile,
  context?: string,
): { kind: 'resolved'; target: Resolved } | { kind: 'client-node'; reason: string } {
  const name = context ?? config.currentContext;
  if (!name) {
    throw new KubeconfigError(
      `kubeconfig ${config.path} sets no current-context; pass --context NAME or run 'kubectl config use-context NAME'`,
    );
  }
  const ctxEntry = config.contexts.find((c) => c.name === name);
  if (!ctxEntry) throw contextNotFound(config, name);
  const ctx = checked(contextFields, ctxEntry.fields, `context "${name}"`, config.path);
  const clusterEntry = findEntry(config.clusters, ctx.cluster, 'cluster', config, name);
  const userEntry = ctx.user
    ? findEntry(config.users, ctx.user, 'user', config, name)
    : { name: '', fields: {}, dir: clusterEntry.dir };
  const others = [
    ...unsupported(clusterEntry.fields, clusterFields).map(
      (f) => `cluster "${clusterEntry.name}" sets ${f}`,
    ),
    ...unsupported(userEntry.fields, userFields).map((f) => `user "${userEntry.name}" sets ${f}`),
  ];
  if (others.length > 0) return { kind: 'client-node', reason: others.join(', ') };
  const cluster = checked(
    clusterFields,
    clusterEntry.fields,
    `cluster "${clusterEntry.name}"`,
    config.path,
  );
  const user = checked(userFields, userEntry.fields, `user "${userEntry.name}"`, config.path);
  const cert = sourceOf(user['client-certificate'], user['client-certificate-data'], userEntry.dir);
  const key = sourceOf(user['client-key'], user['client-key-data'], userEntry.dir);
  if ((cert === undefined) !== (key === undefined)) {
    throw new KubeconfigError(
      `user "${userEntry.name}" in kubeconfig ${config.path} has a client ${cert ? 'certificate but no key' : 'key but no certificate'}; set both client-certificate(-data) and client-key(-data)`,
    );
  }
  const tokenFile = user.tokenFile ?? user['token-file'];
  return {
    kind: 'resolved',
    target: {
      server: cluster.server.replace(/\/+$/, ''),
      ca: sourceOf(
        cluster['certificate-authority'],
        cluster['certificate-authority-data'],
        clusterEntry.dir,
      ),
      insecure: cluster['insecure-skip-tls-verify'] === true,
      tlsServerName: cluster['tls-server-name'],
      // kubectl's rule: an inline token wins over a token file.
      token:
        user.token !== undefined
          ? { data: Buffer.from(user.token) }
          : tokenFile !== undefined
            ? fileSource(tokenFile, userEntry.dir)
            : undefined,
      cert,
      key,
    },
  };
}

/** The pod's ServiceAccount, as client-node's loadFromCluster reads it. */
function inCluster(places: KubeconfigPlaces, context: string | undefined): Resolved {
  if (context !== undefined && context !== IN_CLUSTER_CONTEXT) {
    throw new KubeconfigError(
      `no kubeconfig was found, so there is no context "${context}" (in a pod the only one is ${IN_CLUSTER_CONTEXT}); pass --kubeconfig or drop --context`,
    );
  }
  const host = places.env.KUBERNETES_SERVICE_HOST;
  const port = places.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeconfigError(
      `a ServiceAccount token is mounted (${places.serviceAccountDir}) but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set, so the API server is unknown; pass --kubeconfig`,
    );
  }
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  return {
    server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    ca: { file: join(places.serviceAccountDir, 'ca.crt') },
    insecure: false,
    token: { file: join(places.serviceAccountDir, 'token') },
  };
}

const readSource = async (source: Source): Promise<Buffer> =>
  'data' in source ? source.data : readFile(source.file);

function accessTo(target: Resolved): ClusterAccess {
  return {
    server: target.server,
    async requestOptions() {
      const [ca, cert, key, token] = await Promise.all(
        [target.ca, target.cert, target.key, target.token].map(async (s) => s && readSource(s)),
      );
      const opts: https.RequestOptions = { headers: {} };
      if (ca) opts.ca = ca;
      if (cert) opts.cert = cert;
      if (key) opts.key = key;
      if (target.insecure) opts.rejectUnauthorized = false;
      if (target.tlsServerName) opts.servername = target.tlsServerName;
      const bearer = token?.toString('utf8').trim();
      if (bearer) opts.headers = { Authorization: `Bearer ${bearer}` };
      return opts;
    },
  };
}

/**
 * Reads the kubeconfig the way client-node's loadFromFile / loadFromDefault
 * would: `kubeconfigPath`, else every file of KUBECONFIG (missing ones
 * skipped, as kubectl does), else ~/.kube/config, else the ServiceAccount
 * when its token is mounted, else http://localhost:8080 (client-node's last resort).
 */
export function chooseClusterAccess(
  options: ClusterAccessOptions,
  places: KubeconfigPlaces = defaultPlaces(),
): AccessChoice {
  let config: KubeconfigFile | undefined;
  const list = (places.env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  if (options.kubeconfigPath) config = readKubeconfig(options.kubeconfigPath);
  else if (list.length > 0) {
    const present = list.filter((p) => existsSync(p));
    if (present.length === 0) {
      throw new KubeconfigError(
        `none of the files in KUBECONFIG exists (${list.join(delimiter)}); fix KUBECONFIG or pass --kubeconfig`,
      );
    }
    config = mergeKubeconfigs(present.map(readKubeconfig));
  } else if (places.homeDir && existsSync(join(places.homeDir, '.kube', 'config'))) {
    config = readKubeconfig(join(places.homeDir, '.kube', 'config'));
  }
  if (config) {
    const resolved = resolveKubeconfig(config, options.context);
    if (resolved.kind === 'client-node') return resolved;
    return { kind: 'ready', access: accessTo(resolved.target), from: config.path };
  }
  if (existsSync(join(places.serviceAccountDir, 'token'))) {
    return {
      kind: 'ready',
      access: accessTo(inCluster(places, options.context)),
      from: places.serviceAccountDir,
    };
  }
  if (options.context !== undefined) throw contextNotFound(mergeKubeconfigs([]), options.context);
  return {
    kind: 'ready',
    access: accessTo({ server: 'http://localhost:8080', insecure: false }),
    from: 'default',
  };
}
