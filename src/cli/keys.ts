// `modelroute keys create|list|revoke`: virtual API keys for gateways, kept
// as ModelAPIKey objects that hold only the key's SHA-256 hash. The key is
// printed once, at creation, alone on stdout so `KEY=$(modelroute keys
// create ...)` captures it; everything else goes to stderr.
import { randomBytes } from 'node:crypto';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { API_VERSION, objectName, type ModelAPIKey } from '../api/v1alpha1/index.js';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../identity/api-key.js';
import { kubeconfigNamespace } from '../k8s/cluster.js';
import { modelAPIKeys, modelTenants } from '../k8s/kinds.js';
import { KubeApiError, type KubeClient, type KubePatcher } from '../k8s/types.js';
import { keyRows, parseExpiry, renderTable } from './keys-format.js';
import { appendKeyToFile } from './keys-local.js';
import type { CommandIO } from './validate.js';

/** A command line we cannot read: exit 2. */
class UsageError extends Error {}

/** A refusal the user can act on: printed as is, exit 1. */
class Refused extends Error {}

export const KEYS_USAGE = `usage: modelroute keys <create|list|revoke> [options]

Virtual API keys for modelroute gateways. A key calls as a ModelTenant of its
namespace; only its SHA-256 hash is stored (a ModelAPIKey object, kind
"mak"), so the key itself is shown once, when it is created.

  modelroute keys create NAME --tenant T [-n NS] [--expires 30d|RFC3339]
      Prints the new key alone on stdout (KEY=$(modelroute keys create ...)).
      --tenant T              the ModelTenant of NS the key calls as (required; it must exist)
      --expires E             a lifetime ("30d", "2w", "12h") or an RFC 3339 time; default never
      --allow-missing-tenant  create the key even though ModelTenant T does not exist (yet)
      -f, --file F [-o yaml]  local mode: append the ModelAPIKey to the YAML file F (for
                              'modelroute dev -f F') instead of creating it in a cluster;
                              the namespace is -n, else default; no tenant check
  modelroute keys list [-n NS | -A] [-o table|json]
      NAME, TENANT, PREFIX, STATUS (Active, Revoked, Expired), EXPIRES and AGE; never a hash.
  modelroute keys revoke NAME [-n NS]
      Sets spec.revoked: gateways refuse the key once the controller has pushed the change.
      The object stays for the audit trail ('kubectl delete mak NAME' forgets it).

Cluster options (every subcommand):
  -n, --namespace NS      namespace of the keys (default: the kubeconfig context's, else default)
  -A, --all-namespaces    list: keys of every namespace
  --kubeconfig F          kubeconfig to use (default: KUBECONFIG, ~/.kube/config or in-cluster)
  --context C             kubeconfig context to use (default: its current context)

Exit status: 0 done, 1 refused or failed (the reason is on stderr), 2 usage error.`;

/** What the commands need of the API server: a KubeClient and JSON Patch. */
export type KeysKube = Pick<KubeClient, 'list' | 'get' | 'exists' | 'create'> & KubePatcher;

export interface KeysDeps {
  nowMs: () => number;
  /** Randomness for new keys (injected in tests). */
  random: (n: number) => Buffer;
  /** A client for the cluster, and the namespace its kubeconfig context names. */
  connect: (target: { kubeconfig?: string | undefined; context?: string | undefined }) => {
    client: KeysKube;
    namespace: string | undefined;
  };
}

const defaultDeps = async (): Promise<KeysDeps> => {
  // Imported only here: the command's tests inject a client instead.
  const { createKubeClient } = await import('../k8s/kube-client.js');
  return {
    nowMs: Date.now,
    random: randomBytes,
    connect: ({ kubeconfig, context }) => ({
      client: createKubeClient({
        kubeconfigPath: kubeconfig,
        context,
        userAgent: 'modelroute-keys',
        requestTimeoutMs: 15_000,
      }),
      namespace: kubeconfigNamespace(kubeconfig, context),
    }),
  };
};

const cluster = {
  namespace: objectName.optional(),
  kubeconfig: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
};

export const createFlags = z
  .strictObject({
    ...cluster,
    name: objectName,
    tenant: objectName,
    expires: z.string().min(1).optional(),
    allowMissingTenant: z.boolean(),
    output: z
      .enum(['yaml'], { message: '--output for create can only be yaml (with --file)' })
      .optional(),
    file: z.string().min(1).optional(),
  })
  .refine((f) => f.output !== 'yaml' || f.file !== undefined, {
    message: '--output yaml needs --file F: the YAML file to append the key to (local mode)',
  });
export type CreateFlags = z.infer<typeof createFlags>;

export const listFlags = z
  .strictObject({
    ...cluster,
    allNamespaces: z.boolean(),
    output: z.enum(['table', 'json'], { message: '--output must be table or json' }),
  })
  .refine((f) => !(f.allNamespaces && f.namespace !== undefined), {
    message: '-A and -n exclude each other: -A lists every namespace',
  });
export type ListFlags = z.infer<typeof listFlags>;

export const revokeFlags = z.strictObject({ ...cluster, name: objectName });
export type RevokeFlags = z.infer<typeof revokeFlags>;

const clusterOptions = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Parsed<T> = { ok: true; flags: T } | { ok: false; code: number; message: string };

/** Field path and message of the first issues, e.g. `tenant: must be a lowercase RFC 1123 name`. */
const issues = (error: z.ZodError, labels: Record<string, string>): string =>
  error.issues
    .map((i) => {
      const field = i.path[0];
      const label = typeof field === 'string' ? labels[field] : undefined;
      return label ? `${label}: ${i.message}` : i.message;
    })
    .join('\n');

const LABELS: Record<string, string> = {
  name: 'NAME',
  tenant: '--tenant',
  namespace: '--namespace',
  kubeconfig: '--kubeconfig',
  context: '--context',
  expires: '--expires',
  file: '--file',
};

function parseWith<T>(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  build: (values: Record<string, string | boolean | undefined>, positionals: string[]) => unknown,
  schema: z.ZodType<T>,
): Parsed<T> | 'help' {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    return { ok: false, code: 2, message: (err as Error).message };
  }
  if (values.help === true) return 'help';
  let input: unknown;
  try {
    input = build(values as Record<string, string | boolean | undefined>, positionals);
  } catch (err) {
    if (err instanceof UsageError) return { ok: false, code: 2, message: err.message };
    throw err;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) return { ok: false, code: 2, message: issues(parsed.error, LABELS) };
  return { ok: true, flags: parsed.data };
}

export function parseCreate(argv: string[]): Parsed<CreateFlags> | 'help' {
  return parseWith(
    argv,
    {
      ...clusterOptions,
      tenant: { type: 'string' },
      expires: { type: 'string' },
      'allow-missing-tenant': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      file: { type: 'string', short: 'f' },
    },
    (v, positionals) => ({
      name: oneName(positionals, 'create'),
      tenant: required(v.tenant, 'keys create needs --tenant T: the ModelTenant the key calls as'),
      namespace: v.namespace,
      kubeconfig: v.kubeconfig,
      context: v.context,
      expires: v.expires,
      allowMissingTenant: v['allow-missing-tenant'] === true,
      output: v.output,
      file: v.file,
    }),
    createFlags,
  );
}

export function parseList(argv: string[]): Parsed<ListFlags> | 'help' {
  return parseWith(
    argv,
    {
      ...clusterOptions,
      'all-namespaces': { type: 'boolean', short: 'A' },
      output: { type: 'string', short: 'o' },
    },
    (v, positionals) => {
      if (positionals.length > 0) {
        throw new UsageError(
          `keys list takes no NAME (got ${positionals.join(' ')}); use -n NS or -A`,
        );
      }
      return {
        namespace: v.namespace,
        kubeconfig: v.kubeconfig,
        context: v.context,
        allNamespaces: v['all-namespaces'] === true,
        output: v.output ?? 'table',
      };
    },
    listFlags,
  );
}

export function parseRevoke(argv: string[]): Parsed<RevokeFlags> | 'help' {
  return parseWith(
    argv,
    clusterOptions,
    (v, positionals) => ({
      name: oneName(positionals, 'revoke'),
      namespace: v.namespace,
      kubeconfig: v.kubeconfig,
      context: v.context,
    }),
    revokeFlags,
  );
}

function required(value: string | boolean | undefined, message: string): string {
  if (typeof value !== 'string') throw new UsageError(message);
  return value;
}

/** The NAME argument: exactly one. */
function oneName(positionals: string[], verb: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? `keys ${verb} needs the key's NAME`
        : `keys ${verb} takes one NAME, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  return positionals[0] ?? '';
}

/** The API server's answer, said in the terms of the command that got it. */
function explain(err: unknown): string {
  if (!(err instanceof KubeApiError)) return (err as Error).message;
  if (err.status === 404 && /could not find the requested resource/.test(err.message)) {
    return "this cluster does not serve ModelAPIKeys: install modelroute's CRDs (helm install, or kubectl apply -f crds/)";
  }
  if (err.status === 403) {
    return `not allowed: ${err.message}; modelroute keys needs get on modeltenants and create, get, list and patch on modelapikeys (group modelroute.io) in the key's namespace`;
  }
  if (err.status === undefined) return `cannot reach the cluster: ${err.message}`;
  return err.message;
}

export async function runKeys(argv: string[], io: CommandIO, deps?: KeysDeps): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === 'help' || verb === '--help' || verb === '-h') {
    (verb === undefined ? io.err : io.out)(KEYS_USAGE);
    return verb === undefined ? 2 : 0;
  }
  const parsers = { create: parseCreate, list: parseList, revoke: parseRevoke } as const;
  if (!(verb in parsers)) {
    io.err(`unknown keys command "${verb}": use create, list or revoke\n\n${KEYS_USAGE}`);
    return 2;
  }
  const parsed = parsers[verb as keyof typeof parsers](rest);
  if (parsed === 'help') {
    io.out(KEYS_USAGE);
    return 0;
  }
  if (!parsed.ok) {
    io.err(`${parsed.message}\n\nRun 'modelroute keys --help' for the options.`);
    return parsed.code;
  }
  const d = deps ?? (await defaultDeps());
  try {
    switch (verb) {
      case 'create':
        return await createKey(parsed.flags as CreateFlags, io, d);
      case 'list':
        return await listKeys(parsed.flags as ListFlags, io, d);
      default:
        return await revokeKey(parsed.flags as RevokeFlags, io, d);
    }
  } catch (err) {
    io.err(err instanceof Refused ? err.message : explain(err));
    return 1;
  }
}

/** -n, else the kubeconfig context's namespace, else default (as kubectl). */
function connectTo(
  flags: {
    namespace?: string | undefined;
    kubeconfig?: string | undefined;
    context?: string | undefined;
  },
  deps: KeysDeps,
): { client: KeysKube; namespace: string } {
  let connection;
  try {
    connection = deps.connect({ kubeconfig: flags.kubeconfig, context: flags.context });
  } catch (err) {
    throw new Refused(`cannot use the kubeconfig: ${(err as Error).message}`);
  }
  return {
    client: connection.client,
    namespace: flags.namespace ?? connection.namespace ?? 'default',
  };
}

async function createKey(flags: CreateFlags, io: CommandIO, deps: KeysDeps): Promise<number> {
  const now = deps.nowMs();
  let expiresAt: string | undefined;
  if (flags.expires !== undefined) {
    const expiry = parseExpiry(flags.expires, now);
    if (!expiry.ok) throw new Refused(expiry.message);
    expiresAt = expiry.expiresAt;
  }
  const local = flags.file !== undefined;
  const target = local ? undefined : connectTo(flags, deps);
  const namespace = target?.namespace ?? flags.namespace ?? 'default';
  const ref = { namespace, name: flags.name };

  if (target && !flags.allowMissingTenant) {
    const tenantExists = await target.client.exists(modelTenants, {
      namespace,
      name: flags.tenant,
    });
    if (!tenantExists) {
      throw new Refused(
        [
          `ModelTenant "${flags.tenant}" does not exist in namespace ${namespace}: a key calls as a tenant of its own namespace.`,
          `Create the tenant first, e.g.:`,
          `  kubectl apply -n ${namespace} -f - <<EOF`,
          `  apiVersion: ${API_VERSION}`,
          `  kind: ModelTenant`,
          `  metadata: {name: ${flags.tenant}}`,
          `  spec: {priority: normal}`,
          `  EOF`,
          `or pass --allow-missing-tenant to create the key anyway (gateways refuse it until that tenant exists).`,
        ].join('\n'),
      );
    }
  }

  const key = generateApiKey(deps.random);
  const notes: string[] = [];
  const object: ModelAPIKey = {
    apiVersion: API_VERSION,
    kind: 'ModelAPIKey',
    metadata: { name: flags.name, namespace },
    spec: {
      tenant: flags.tenant,
      hash: hashApiKey(key),
      prefix: apiKeyPrefix(key),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      revoked: false,
    },
  };

  if (flags.file !== undefined) {
    const written = appendKeyToFile(flags.file, object);
    if (!written.ok) throw new Refused(written.message);
    if (!written.tenantInFile) {
      notes.push(
        `note: ${flags.file} has no ModelTenant ${namespace}/${flags.tenant}; give 'modelroute dev' a file that has one, or the key is refused (a key calls only as an existing tenant)`,
      );
    }
  } else if (target) {
    try {
      await target.client.create(modelAPIKeys, object);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) {
        throw new Refused(
          `ModelAPIKey ${namespace}/${flags.name} already exists; pick another name (a key's value is never shown again, so an existing key cannot be re-issued: revoke it with 'modelroute keys revoke ${flags.name} -n ${namespace}')`,
        );
      }
      throw err;
    }
  }

  io.out(key);
  for (const note of notes) io.err(note);
  const where = flags.file !== undefined ? `in ${flags.file}` : 'in the cluster';
  io.err(
    `created ModelAPIKey ${ref.namespace}/${ref.name} ${where} for tenant ${flags.tenant} (prefix ${object.spec.prefix}, expires ${expiresAt ?? 'never'}); the key above is shown only now and cannot be shown again: store it`,
  );
  return 0;
}

async function listKeys(flags: ListFlags, io: CommandIO, deps: KeysDeps): Promise<number> {
  const { client, namespace } = connectTo(flags, deps);
  const { items } = await client.list(modelAPIKeys, flags.allNamespaces ? {} : { namespace });
  const now = deps.nowMs();
  const rows = keyRows(items, now);
  if (flags.output === 'json') {
    io.out(JSON.stringify(rows, null, 2));
    return 0;
  }
  if (rows.length === 0) {
    io.err(
      flags.allNamespaces
        ? 'No ModelAPIKeys found in any namespace.'
        : `No ModelAPIKeys found in namespace ${namespace}.`,
    );
    return 0;
  }
  io.out(renderTable(rows, now, { allNamespaces: flags.allNamespaces }));
  return 0;
}

async function revokeKey(flags: RevokeFlags, io: CommandIO, deps: KeysDeps): Promise<number> {
  const { client, namespace } = connectTo(flags, deps);
  const ref = { namespace, name: flags.name };
  const key = await client.get(modelAPIKeys, ref);
  if (!key) {
    throw new Refused(
      `ModelAPIKey "${flags.name}" not found in namespace ${namespace}; 'modelroute keys list -n ${namespace}' (or -A for every namespace) shows the keys`,
    );
  }
  const what = `ModelAPIKey ${namespace}/${flags.name} (tenant ${key.spec.tenant}, prefix ${key.spec.prefix})`;
  if (key.spec.revoked) {
    io.out(`${what} was already revoked; nothing changed`);
    return 0;
  }
  // `add` sets the member whether or not the object carries it yet.
  await client.patch(modelAPIKeys, ref, [{ op: 'add', path: '/spec/revoked', value: true }]);
  io.out(
    `revoked ${what}: gateways refuse it once the controller pushes the change (the object stays for the audit trail)`,
  );
  return 0;
}
