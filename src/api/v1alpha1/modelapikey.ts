// ModelAPIKey: a virtual API key for a gateway. Only the key's SHA-256 hash is
// stored; the key itself is shown once, by `modelroute keys create`. A key is
// valid only at the proxies of its own namespace, for its tenant there.
import { z } from 'zod';
import { API_VERSION, conditions, count, objectMeta, objectName } from './common.js';

/** Every virtual key starts with this, so the proxy tells it from a ServiceAccount token at a glance. */
export const API_KEY_PREFIX = 'mr-';
/** The stored hash: `sha256:` and 64 hex digits of the whole key. */
export const API_KEY_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

export const modelAPIKeySpec = z
  .strictObject({
    tenant: objectName.describe('The ModelTenant of this namespace the key calls as.'),
    hash: z
      .string()
      .regex(API_KEY_HASH_PATTERN, {
        message:
          'must be "sha256:" followed by 64 lowercase hex digits (modelroute keys create writes it)',
      })
      .describe('SHA-256 of the key, "sha256:<hex>". The key itself is never stored.'),
    prefix: z
      .string()
      .regex(/^mr-[A-Za-z0-9_-]{4,8}$/, {
        message: 'must be "mr-" and the first 4 to 8 characters of the key',
      })
      .describe('The start of the key, to recognise it in lists (never enough to use it).'),
    expiresAt: z
      .string()
      .datetime({ offset: true })
      .optional()
      .describe('When the key stops working (RFC 3339); absent: never.'),
    revoked: z
      .boolean()
      .default(false)
      .describe(
        'A revoked key is refused at once (kept for the audit trail; delete it to forget it).',
      ),
  })
  .describe('A virtual API key.');
export type ModelAPIKeySpec = z.infer<typeof modelAPIKeySpec>;

export const modelAPIKeyStatus = z
  .strictObject({
    observedGeneration: count.optional(),
    conditions: conditions.optional(),
  })
  .describe('Observed state of a ModelAPIKey.');

export const modelAPIKey = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ModelAPIKey'),
  metadata: objectMeta,
  spec: modelAPIKeySpec,
  status: modelAPIKeyStatus.optional(),
});
export type ModelAPIKey = z.infer<typeof modelAPIKey>;
