// One kubeconfig file as kubectl writes it (YAML or JSON), read into named
// clusters, users and contexts. Entries are checked loosely here (a name and
// an object) and strictly only when a context selects them, as kubectl does:
// a stale entry nobody uses must not stop the controller.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

/** A kubeconfig that cannot be used; the message says what is wrong and how to fix it. */
export class KubeconfigError extends Error {}

const fieldsOf = z.record(z.string(), z.unknown()).nullish();
const clusters = z.array(z.looseObject({ name: z.string().min(1), cluster: fieldsOf }));
const users = z.array(z.looseObject({ name: z.string().min(1), user: fieldsOf }));
const contexts = z.array(z.looseObject({ name: z.string().min(1), context: fieldsOf }));

const kubeconfigDocument = z.looseObject({
  clusters: clusters.nullish(),
  users: users.nullish(),
  contexts: contexts.nullish(),
  'current-context': z.string().nullish(),
});

export interface KubeconfigEntry {
  name: string;
  fields: Record<string, unknown>;
  /** The directory of the file that defined it: relative paths in it are relative to that. */
  dir: string;
}

export interface KubeconfigFile {
  path: string;
  clusters: KubeconfigEntry[];
  users: KubeconfigEntry[];
  contexts: KubeconfigEntry[];
  currentContext?: string | undefined;
}

const issuesText = (error: z.ZodError): string =>
  error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`)
    .join('; ');

/** Parses the text of the kubeconfig at `path` (used only for messages and relative paths). */
export function parseKubeconfig(text: string, path: string): KubeconfigFile {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new KubeconfigError(
      `kubeconfig ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}; 'kubectl config view --kubeconfig ${path}' shows what kubectl makes of it`,
    );
  }
  // An empty file is an empty kubeconfig, as for kubectl.
  const parsed = kubeconfigDocument.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new KubeconfigError(
      `kubeconfig ${path} is not a kubeconfig: ${issuesText(parsed.error)}; each of clusters, users and contexts is a list of {name, cluster|user|context}`,
    );
  }
  const dir = dirname(path);
  const entry = (name: string, fields: Record<string, unknown> | null | undefined) => ({
    name,
    fields: fields ?? {},
    dir,
  });
  const { data } = parsed;
  return {
    path,
    clusters: (data.clusters ?? []).map((e) => entry(e.name, e.cluster)),
    users: (data.users ?? []).map((e) => entry(e.name, e.user)),
    contexts: (data.contexts ?? []).map((e) => entry(e.name, e.context)),
    currentContext: data['current-context'] || undefined,
  };
}

export function readKubeconfig(path: string): KubeconfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KubeconfigError(
      `cannot read kubeconfig ${path}: ${(err as Error).message}; pass --kubeconfig with a readable file, or set KUBECONFIG`,
    );
  }
  return parseKubeconfig(text, path);
}

/**
 * Merges files as kubectl merges a KUBECONFIG list: the first file to define a
 * cluster, user or context name wins, and so does the first current-context.
 * (client-node instead throws on a repeated name and lets the last
 * current-context win; kubectl's rule is the one users see in `kubectl config view`.)
 */
export function mergeKubeconfigs(files: readonly KubeconfigFile[]): KubeconfigFile {
  const firstByName = (pick: (f: KubeconfigFile) => KubeconfigEntry[]): KubeconfigEntry[] => {
    const seen = new Map<string, KubeconfigEntry>();
    for (const file of files)
      for (const entry of pick(file)) if (!seen.has(entry.name)) seen.set(entry.name, entry);
    return [...seen.values()];
  };
  return {
    path: files.map((f) => f.path).join(', '),
    clusters: firstByName((f) => f.clusters),
    users: firstByName((f) => f.users),
    contexts: firstByName((f) => f.contexts),
    currentContext: files.find((f) => f.currentContext)?.currentContext,
  };
}
