// Keeps clientConfig.caBundle of the sidecar injector's
// MutatingWebhookConfiguration equal to the CA the controller serves with.
// The chart creates the configuration without a caBundle and never sets it,
// so `helm upgrade` leaves our value alone.
import { mutatingWebhookConfigurations } from '../k8s/kinds.js';
import type { JsonPatchOperation, KubeClient, KubePatcher } from '../k8s/types.js';

export type WebhookConfigClient = Pick<KubeClient, 'get'> & KubePatcher;

export type CaBundleSync =
  | { result: 'unchanged' }
  | { result: 'updated'; webhooks: string[] }
  /** The configuration does not exist (yet): the chart or the user creates it. */
  | { result: 'missing' };

/**
 * Sets every webhook's caBundle in the configuration to `trustBundlePem`
 * where it differs. Each change is guarded by a `test` of the webhook's name at
 * that index, so a concurrent reorder fails the patch (422) instead of
 * writing our CA into someone else's webhook; the next sync tries again.
 */
export async function syncCaBundle(
  client: WebhookConfigClient,
  configName: string,
  trustBundlePem: string,
): Promise<CaBundleSync> {
  const config = await client.get(mutatingWebhookConfigurations, { name: configName });
  if (!config) return { result: 'missing' };
  const caBundle = Buffer.from(trustBundlePem, 'utf8').toString('base64');
  const operations: JsonPatchOperation[] = [];
  const changed: string[] = [];
  (config.webhooks ?? []).forEach((webhook, i) => {
    if (webhook.clientConfig.caBundle === caBundle) return;
    changed.push(webhook.name);
    operations.push(
      { op: 'test', path: `/webhooks/${i}/name`, value: webhook.name },
      // "add" sets the member whether or not it exists.
      { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle },
    );
  });
  if (operations.length === 0) return { result: 'unchanged' };
  await client.patch(mutatingWebhookConfigurations, { name: configName }, operations);
  return { result: 'updated', webhooks: changed };
}
