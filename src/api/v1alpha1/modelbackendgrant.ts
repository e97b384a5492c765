// ModelBackendGrant: lets ModelRoutes of other namespaces use ModelBackends of
// this one (Gateway API's ReferenceGrant pattern). A platform team keeps its
// backends and provider keys in one namespace and grants app namespaces the
// use of them; the keys themselves never leave the platform namespace's
// Secrets except to the proxies that use them, in memory.
import { z } from 'zod';
import { API_VERSION, conditions, count, objectMeta, objectName } from './common.js';

export const modelBackendGrantSpec = z
  .strictObject({
    from: z
      .array(
        z.strictObject({
          namespace: objectName.describe(
            'A namespace whose ModelRoutes may reference the backends.',
          ),
        }),
      )
      .min(1)
      .max(256)
      .describe('Namespaces allowed to reference.'),
    backends: z
      .array(objectName)
      .max(256)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('ModelBackends of this namespace they may use; absent: all of them.'),
  })
  .describe('Who may use which backends of this namespace.');
export type ModelBackendGrantSpec = z.infer<typeof modelBackendGrantSpec>;

export const modelBackendGrantStatus = z
  .strictObject({
    observedGeneration: count.optional(),
    conditions: conditions.optional(),
  })
  .describe('Observed state of a ModelBackendGrant.');

export const modelBackendGrant = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ModelBackendGrant'),
  metadata: objectMeta,
  spec: modelBackendGrantSpec,
  status: modelBackendGrantStatus.optional(),
});
export type ModelBackendGrant = z.infer<typeof modelBackendGrant>;
