// `modelroute report`: spend, tokens and savings by tenant, namespace,
// route or model over a window. Reads the usage ledger the controller keeps
// in the cluster (its ConfigMaps: no running leader needed), or the FinOps
// API of a dev proxy or a port-forwarded controller (--url).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { sinceDuration } from '../dashboard/api-query.js';
import {
  savingsReport,
  usageDimension,
  usageReport,
  type UsageDimension,
} from '../finops/api-types.js';
import { renderReport, type Report } from '../finops/report-format.js';
import { UsageLedger } from '../finops/usage-ledger.js';
import type { KubeClient } from '../k8s/types.js';
import { createLogger } from '../telemetry/logger.js';
import type { CommandIO } from './validate.js';

const USAGE = `usage: modelroute report [--since 7d] [--by tenant|namespace|workload|route|rule|model|backend|tier]
                         [--format table|csv|json] [source options]

Spend, tokens and savings from the usage ledger, grouped by one dimension.
CSV follows the FinOps FOCUS column names (BilledCost, ChargePeriodStart,
ConsumedQuantity, ...) with x_ columns for requests, tokens and savings.

options:
  --since D        window ending now: 30m, 24h, 7d ... up to 30d (default 7d)
  --by DIM         grouping (default tenant)
  --format F       table (default), csv or json

source (one of):
  in a cluster (default): the controller's ledger ConfigMaps
    -n, --namespace NS   the controller's namespace (default modelroute-system)
    --kubeconfig F       kubeconfig (default: KUBECONFIG, ~/.kube/config or in-cluster)
    --context C          kubeconfig context
  --url URL        a FinOps API: modelroute dev's admin URL, or a port-forwarded
                   controller (kubectl -n modelroute-system port-forward deploy/modelroute-controller 8081)
  --token-file F   the admin token for --url (default: MODELROUTE_ADMIN_TOKEN)`;

const formats = z.enum(['table', 'csv', 'json'], { error: 'format must be table, csv or json' });
const byFlag = z.enum(usageDimension.options, {
  error: `by must be one of ${usageDimension.options.join(', ')}`,
});
const flagsSchema = z.strictObject({
  since: sinceDuration.prefault('7d'),
  by: byFlag.default('tenant'),
  format: formats.default('table'),
  namespace: z.string().min(1).default('modelroute-system'),
  kubeconfig: z.string().optional(),
  context: z.string().optional(),
  url: z.url({ error: 'url must be an http(s) URL, e.g. http://127.0.0.1:8081' }).optional(),
  'token-file': z.string().optional(),
  help: z.boolean().optional(),
});

export interface ReportDeps {
  now: () => number;
  env: Readonly<Record<string, string | undefined>>;
  fetch: typeof fetch;
  /** A client for the cluster (the ledger's ConfigMaps). */
  connect: (target: {
    kubeconfig?: string | undefined;
    context?: string | undefined;
  }) => Pick<KubeClient, 'list'>;
}

const defaultDeps = async (): Promise<ReportDeps> => {
  const { createKubeClient } = await import('../k8s/kube-client.js');
  return {
    now: Date.now,
    env: process.env,
    fetch,
    connect: ({ kubeconfig, context }) =>
      createKubeClient({
        kubeconfigPath: kubeconfig,
        context,
        userAgent: 'modelroute-report',
        requestTimeoutMs: 30_000,
      }),
  };
};

export async function runReport(
  argv: string[],
  io: CommandIO,
  injected?: ReportDeps,
): Promise<number> {
  let raw;
  try {
    raw = parseArgs({
      args: argv,
      options: {
        since: { type: 'string' },
        by: { type: 'string' },
        format: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        url: { type: 'string' },
        'token-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    io.err(`modelroute report: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (raw.help) {
    io.out(USAGE);
    return 0;
  }
  const parsed = flagsSchema.safeParse(raw);
  if (!parsed.success) {
    io.err(
      `modelroute report: ${parsed.error.issues.map((i) => i.message).join('; ')}\n\n${USAGE}`,
    );
    return 2;
  }
  const flags = parsed.data;
  const deps = injected ?? (await defaultDeps());
  try {
    const report = flags.url
      ? await fromApi(flags.url, flags, deps)
      : await fromCluster(flags, deps, io);
    io.out(renderReport(report, flags.format));
    return 0;
  } catch (err) {
    io.err(`modelroute report: ${(err as Error).message}`);
    return 1;
  }
}

type Flags = z.infer<typeof flagsSchema>;

async function fromCluster(flags: Flags, deps: ReportDeps, io: CommandIO): Promise<Report> {
  const { readLedgerDays } = await import('../controller/usage-ledger-store.js');
  const ledger = new UsageLedger(deps.now);
  let hours;
  try {
    hours = await readLedgerDays(
      {
        client: deps.connect({ kubeconfig: flags.kubeconfig, context: flags.context }),
        namespace: flags.namespace,
        // A day that cannot be read is skipped with a warning on stderr.
        logger: createLogger({ level: 'warn', write: (line) => io.err(line) }),
        now: deps.now,
      },
      ledger,
    );
  } catch (err) {
    throw new Error(
      `cannot read the usage ledger in namespace ${flags.namespace} (${(err as Error).message}); pass -n with the controller's namespace, or --url to read a FinOps API`,
    );
  }
  if (hours === 0)
    throw new Error(
      `no usage ledger in namespace ${flags.namespace}: the controller writes one ConfigMap a day (label modelroute.io/usage-ledger) once proxies have served traffic; pass -n with the controller's namespace`,
    );
  return {
    usage: ledger.usage({ sinceMs: flags.since, by: flags.by, step: '1d' }),
    savings: ledger.savings({ sinceMs: flags.since }),
  };
}

async function fromApi(base: string, flags: Flags, deps: ReportDeps): Promise<Report> {
  const token = flags['token-file']
    ? readFileSync(flags['token-file'], 'utf8').trim()
    : deps.env.MODELROUTE_ADMIN_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const since = `${Math.round(flags.since / 60_000)}m`;
  const get = async <T>(path: string, schema: z.ZodType<T>): Promise<T> => {
    const url = new URL(path, base);
    const res = await deps.fetch(url, { headers });
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const message = (body as { error?: { message?: string } } | undefined)?.error?.message;
      throw new Error(
        `${url.origin}${url.pathname} answered ${res.status}: ${message ?? res.statusText}`,
      );
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success)
      throw new Error(
        `${url.pathname} answered something that is not a FinOps report; is ${base} a modelroute admin or controller URL?`,
      );
    return parsed.data;
  };
  const by: UsageDimension = flags.by;
  return {
    usage: await get(`/api/v1/usage?since=${since}&by=${by}&step=1d`, usageReport),
    savings: await get(`/api/v1/savings?since=${since}`, savingsReport),
  };
}
