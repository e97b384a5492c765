// A Secret with its values, for the one reader that must hand them on: the
// controller's credential endpoint, which delivers a backend's API key to the
// proxies whose table uses it. Read only in the credential namespaces (RBAC
// allows nothing else), decoded here, and never logged.
import { z } from 'zod';
import { kubeMeta } from './kinds.js';
import type { ResourceKind } from './types.js';

const secretDataSchema = z
  .object({
    metadata: kubeMeta,
    data: z.record(z.string(), z.string()).nullish(),
  })
  .transform(({ metadata, data }) => ({
    name: metadata.name,
    namespace: metadata.namespace,
    // The API server returns data base64-encoded (stringData is write-only).
    values: new Map(
      Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    ),
  }));
export type SecretData = z.infer<typeof secretDataSchema>;

export const secretData: ResourceKind<SecretData> = {
  group: '',
  version: 'v1',
  plural: 'secrets',
  kind: 'Secret',
  namespaced: true,
  schema: secretDataSchema,
  readsSecretData: true,
};
