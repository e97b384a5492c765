// Rendering the Helm chart (charts/modelroute) and reading what it produced,
// for the install tests.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT, helm } from '../support/cluster.js';
import { pinnedVersions } from '../testenv/paths.js';

export const CHART_DIR = join(REPO_ROOT, 'charts', 'modelroute');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** Writes values to a file for `helm -f` (keys such as label names do not survive --set). */
export function valuesFile(values: object): string {
  const file = join(mkdtempSync(join(tmpdir(), 'modelroute-values-')), 'values.json');
  writeFileSync(file, JSON.stringify(values));
  return file;
}

export function parseObjects(yamlText: string): K8sObject[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null && typeof o === 'object' && 'kind' in o);
}

/** `helm template`; throws with helm's message when rendering fails. */
export function renderChart(
  values: object = {},
  options: { release?: string; namespace?: string } = {},
): K8sObject[] {
  const r = helm([
    'template',
    options.release ?? 'modelroute',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'modelroute-system',
    '--kube-version',
    pinnedVersions().kube,
    '-f',
    valuesFile(values),
  ]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseObjects(r.stdout);
}

export function findObject(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) {
    const have = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`no ${kind}/${name} among ${have}`);
  }
  return found;
}

/** Rules compared as sets: the order of rules and of the names inside one rule carries no meaning. */
export function normalizeRules(rules: PolicyRule[]): string[] {
  const sorted = (xs: string[] | undefined) => (xs ? [...xs].sort() : undefined);
  return rules
    .map((r) =>
      JSON.stringify({
        apiGroups: sorted(r.apiGroups),
        resources: sorted(r.resources),
        verbs: sorted(r.verbs),
        resourceNames: sorted(r.resourceNames),
        nonResourceURLs: sorted(r.nonResourceURLs),
      }),
    )
    .sort();
}

/** manifests/rbac/controller.yaml: the controller's RBAC the integration suites run with. */
/**
 * The rules of each ClusterRole and Role in manifests/rbac/controller.yaml, by
 * kind/name. The file is written for release "modelroute" with default values;
 * `names` maps its object names to another release's (resourceNames only).
 */
export function referenceRBAC(names: Record<string, string> = {}): Map<string, PolicyRule[]> {
  const objects = parseObjects(
    readFileSync(join(REPO_ROOT, 'manifests', 'rbac', 'controller.yaml'), 'utf8'),
  );
  const rename = (rule: PolicyRule): PolicyRule =>
    rule.resourceNames
      ? { ...rule, resourceNames: rule.resourceNames.map((n) => names[n] ?? n) }
      : rule;
  return new Map(
    objects
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
      .map((o) => [`${o.kind}/${o.metadata.name}`, (o.rules as PolicyRule[]).map(rename)]),
  );
}

/** The repository's CRDs (crds/*.yaml), the chart's source of truth for them. */
export function repositoryCRDs(): K8sObject[] {
  return readdirSync(join(REPO_ROOT, 'crds'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(readFileSync(join(REPO_ROOT, 'crds', f), 'utf8')) as K8sObject);
}

/** The single container of a Deployment, typed loosely enough to assert on. */
export interface ContainerSpec {
  name: string;
  image: string;
  args: string[];
  env: { name: string; valueFrom?: Record<string, Record<string, string>> }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  securityContext: Record<string, unknown>;
  resources: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface DeploymentSpec {
  replicas: number;
  template: {
    metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
    spec: {
      serviceAccountName?: string;
      securityContext: Record<string, unknown>;
      containers: ContainerSpec[];
      volumes?: { name: string; secret?: { secretName: string } }[];
    };
  };
}

export function deploymentSpec(o: K8sObject): DeploymentSpec {
  return o.spec as DeploymentSpec;
}

/** The value of a `--flag=value` argument, or undefined. */
export function flag(args: string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}
