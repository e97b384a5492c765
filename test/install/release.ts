// A Helm release of charts/modelroute under test: helm itself, and what the
// release created that other steps need (its admin token, its ServiceAccount).
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helm, kubectlAt, mustKubectl, testenv } from '../support/cluster.js';

export function mustHelm(args: string[]): string {
  const r = helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** The admin token the chart generated (or kept) in its Secret. */
export function releaseAdminToken(release: string, namespace: string): string {
  const secret = JSON.parse(
    mustKubectl(['get', 'secret', `${release}-admin-token`, '-n', namespace, '-o', 'json']),
  ) as { data: { token: string } };
  return Buffer.from(secret.data.token, 'base64').toString();
}

/** A kubeconfig for the chart's ServiceAccount: the rights the chart grants, nothing more. */
export function releaseServiceAccountKubeconfig(release: string, namespace: string): string {
  const token = mustKubectl([
    'create',
    'token',
    `${release}-controller`,
    '-n',
    namespace,
    '--duration',
    '1h',
  ]).trim();
  const file = join(mkdtempSync(join(tmpdir(), 'modelroute-chart-sa-')), 'kubeconfig');
  copyFileSync(testenv.kubeconfig, file);
  kubectlAt(file, ['config', 'set-credentials', 'chart-sa', `--token=${token}`]);
  const set = kubectlAt(file, ['config', 'set-context', '--current', '--user=chart-sa']);
  if (set.code !== 0) throw new Error(`cannot write the ServiceAccount kubeconfig: ${set.stderr}`);
  return file;
}
