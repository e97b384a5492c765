// ModelAPIKey objects for the `modelroute keys` tests, parsed through the real schema.
import { API_VERSION, modelAPIKey, type ModelAPIKey } from '../../api/v1alpha1/index.js';

export function apiKeyObject(
  namespace: string,
  name: string,
  spec: Partial<ModelAPIKey['spec']> = {},
  createdAt = '2026-12-01T04:00:00Z',
): ModelAPIKey {
  return modelAPIKey.parse({
    apiVersion: API_VERSION,
    kind: 'ModelAPIKey',
    metadata: { namespace, name, creationTimestamp: createdAt },
    spec: { tenant: 'team-a', hash: `sha256:${'a'.repeat(64)}`, prefix: 'mr-abcdef', ...spec },
  });
}
