// Writes a ConfigMap the leader owns whole (usage-ledger days, learning
// state): created when missing, else replaced at the version just read. A
// create that races another writer's falls back to the replace.
import { KubeApiError, type KubeClient, type ResourceKind } from '../k8s/types.js';

interface OwnedConfigMap {
  metadata: { name: string; namespace?: string | undefined; resourceVersion?: string | undefined };
}

export async function upsertConfigMap<T extends OwnedConfigMap>(
  client: Pick<KubeClient, 'get' | 'create' | 'replace'>,
  kind: ResourceKind<T>,
  body: T,
): Promise<void> {
  const key = { namespace: body.metadata.namespace ?? 'default', name: body.metadata.name };
  const existing = await client.get(kind, key);
  if (!existing) {
    try {
      await client.create(kind, body);
      return;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409)) throw err;
    }
  }
  const current = existing ?? (await client.get(kind, key));
  await client.replace(kind, {
    ...body,
    metadata: { ...body.metadata, resourceVersion: current?.metadata.resourceVersion },
  });
}
