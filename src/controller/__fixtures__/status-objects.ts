// Stored objects for status-writer tests: the route team/chat and the tenant team/batch.
import {
  modelRoute,
  modelTenant,
  type ModelRoute,
  type ModelTenant,
} from '../../api/v1alpha1/index.js';

export const chatRoute = (): ModelRoute =>
  modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'chat', namespace: 'team', generation: 1 },
    spec: { model: 'chat', rules: [{ name: 'main', backendRefs: [{ name: 'a' }] }] },
  });

export const batchTenant = (): ModelTenant =>
  modelTenant.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelTenant',
    metadata: { name: 'batch', namespace: 'team', generation: 1 },
    spec: { identities: { namespaces: ['team'] } },
  });
