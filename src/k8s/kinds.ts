// The resource kinds the controller reads and writes, each with a zod schema that checks only the fields we read.
import { z } from 'zod';
import {
  GROUP,
  VERSION,
  modelAPIKey,
  modelBackend,
  modelBackendGrant,
  modelRoute,
  modelTenant,
} from '../api/v1alpha1/index.js';
import type { ResourceKind } from './types.js';

/** Object metadata as the controller reads it (ObjectMetaLike); the API server's other fields pass through. */
export const kubeMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  uid: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
});
export type KubeMeta = z.infer<typeof kubeMeta>;

/** A status condition as core kinds report it (Pods, Nodes): only type and status are read. */
const coreCondition = z.looseObject({ type: z.string(), status: z.string() });

export const modelRoutes: ResourceKind<z.infer<typeof modelRoute>> = {
  group: GROUP,
  version: VERSION,
  plural: 'modelroutes',
  kind: 'ModelRoute',
  namespaced: true,
  schema: modelRoute,
};

export const modelBackends: ResourceKind<z.infer<typeof modelBackend>> = {
  group: GROUP,
  version: VERSION,
  plural: 'modelbackends',
  kind: 'ModelBackend',
  namespaced: true,
  schema: modelBackend,
};

export const modelTenants: ResourceKind<z.infer<typeof modelTenant>> = {
  group: GROUP,
  version: VERSION,
  plural: 'modeltenants',
  kind: 'ModelTenant',
  namespaced: true,
  schema: modelTenant,
};

export const modelAPIKeys: ResourceKind<z.infer<typeof modelAPIKey>> = {
  group: GROUP,
  version: VERSION,
  plural: 'modelapikeys',
  kind: 'ModelAPIKey',
  namespaced: true,
  schema: modelAPIKey,
};

export const modelBackendGrants: ResourceKind<z.infer<typeof modelBackendGrant>> = {
  group: GROUP,
  version: VERSION,
  plural: 'modelbackendgrants',
  kind: 'ModelBackendGrant',
  namespaced: true,
  schema: modelBackendGrant,
};

const podSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Pod'),
  metadata: kubeMeta,
  spec: z.looseObject({
    containers: z.array(
      z.looseObject({
        name: z.string(),
        ports: z
          .array(
            z.looseObject({
              name: z.string().optional(),
              containerPort: z.int(),
              protocol: z.string().optional(),
            }),
          )
          .optional(),
      }),
    ),
  }),
  status: z
    .looseObject({
      phase: z.string().optional(),
      podIP: z.string().optional(),
      conditions: z.array(coreCondition).optional(),
    })
    .optional(),
});
export type Pod = z.infer<typeof podSchema>;

export const pods: ResourceKind<Pod> = {
  group: '',
  version: 'v1',
  plural: 'pods',
  kind: 'Pod',
  namespaced: true,
  schema: podSchema,
};

const serviceSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata: kubeMeta,
  spec: z.looseObject({
    clusterIP: z.string().optional(),
    ports: z
      .array(
        z.looseObject({
          name: z.string().optional(),
          port: z.int(),
          targetPort: z.union([z.int(), z.string()]).optional(),
        }),
      )
      .optional(),
  }),
});
export type Service = z.infer<typeof serviceSchema>;

export const services: ResourceKind<Service> = {
  group: '',
  version: 'v1',
  plural: 'services',
  kind: 'Service',
  namespaced: true,
  schema: serviceSchema,
};

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

const endpointSliceSchema = z.looseObject({
  apiVersion: z.literal('discovery.k8s.io/v1'),
  kind: z.literal('EndpointSlice'),
  metadata: kubeMeta,
  addressType: z.string().optional(),
  // The API server writes `"endpoints": null` for a slice without endpoints.
  endpoints: z
    .array(
      z.looseObject({
        addresses: z.array(z.string()),
        conditions: z.looseObject({ ready: z.boolean().nullish() }).optional(),
      }),
    )
    .nullish(),
  ports: z.array(z.looseObject({ name: z.string().nullish(), port: z.int().nullish() })).nullish(),
});
export type EndpointSlice = z.infer<typeof endpointSliceSchema>;

export const endpointSlices: ResourceKind<EndpointSlice> = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
  namespaced: true,
  schema: endpointSliceSchema,
};

const leaseSchema = z.looseObject({
  apiVersion: z.literal('coordination.k8s.io/v1'),
  kind: z.literal('Lease'),
  metadata: kubeMeta,
  spec: z.looseObject({
    holderIdentity: z.string().nullish(),
    leaseDurationSeconds: z.int().optional(),
    acquireTime: z.string().optional(),
    renewTime: z.string().optional(),
    leaseTransitions: z.int().optional(),
  }),
});
export type Lease = z.infer<typeof leaseSchema>;

export const leases: ResourceKind<Lease> = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease',
  namespaced: true,
  schema: leaseSchema,
};

/** kubectl apply keeps the whole applied object, Secret data included, in this annotation. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Secrets as metadata only: z.object strips every other field, so `data` and
 * `stringData` never reach an object we keep, and the last-applied annotation
 * (a copy of the data) is dropped. The client also asks the API server for
 * metadata only where it can.
 */
const secretSchema = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: kubeMeta.transform(({ annotations, ...rest }) => {
    if (!annotations || !(LAST_APPLIED_ANNOTATION in annotations)) return { ...rest, annotations };
    const { [LAST_APPLIED_ANNOTATION]: _dropped, ...kept } = annotations;
    return { ...rest, annotations: kept };
  }),
});
export type SecretMeta = z.infer<typeof secretSchema>;

export const secrets: ResourceKind<SecretMeta> = {
  group: '',
  version: 'v1',
  plural: 'secrets',
  kind: 'Secret',
  namespaced: true,
  schema: secretSchema,
};

/**
 * A Secret as the names of its keys, nothing else: whether a backend's
 * secretRef.key is there. The values arrive in the response (no API verb
 * lists keys alone) and are dropped here, at parse time, never kept.
 */
const secretKeyNamesSchema = z
  .object({
    metadata: kubeMeta,
    data: z.record(z.string(), z.unknown()).nullish(),
    stringData: z.record(z.string(), z.unknown()).nullish(),
  })
  .transform(({ metadata, data, stringData }) => ({
    name: metadata.name,
    namespace: metadata.namespace,
    keys: [...Object.keys(data ?? {}), ...Object.keys(stringData ?? {})].sort(),
  }));
export type SecretKeyNames = z.infer<typeof secretKeyNamesSchema>;

export const secretKeyNames: ResourceKind<SecretKeyNames> = {
  group: '',
  version: 'v1',
  plural: 'secrets',
  kind: 'Secret',
  namespaced: true,
  schema: secretKeyNamesSchema,
  readsSecretData: true,
};

const eventSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Event'),
  metadata: kubeMeta,
  involvedObject: z.looseObject({
    kind: z.string().optional(),
    namespace: z.string().optional(),
    name: z.string().optional(),
    uid: z.string().optional(),
  }),
  type: z.string().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  count: z.int().optional(),
});
export type KubeEvent = z.infer<typeof eventSchema>;

/** core/v1 Events, for reading back what createEvent wrote. */
export const events: ResourceKind<KubeEvent> = {
  group: '',
  version: 'v1',
  plural: 'events',
  kind: 'Event',
  namespaced: true,
  schema: eventSchema,
};

/**
 * The webhook's serving-certificate Secret, read with its data: the one Secret
 * whose values the controller reads (it wrote them). Never logged.
 */
const tlsSecretSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: kubeMeta,
  type: z.string().optional(),
  data: z.record(z.string(), z.string()).nullish(),
});
export type TlsSecret = z.infer<typeof tlsSecretSchema>;

export const tlsSecrets: ResourceKind<TlsSecret> = {
  group: '',
  version: 'v1',
  plural: 'secrets',
  kind: 'Secret',
  namespaced: true,
  schema: tlsSecretSchema,
  readsSecretData: true,
};

const mutatingWebhookConfigurationSchema = z.looseObject({
  apiVersion: z.literal('admissionregistration.k8s.io/v1'),
  kind: z.literal('MutatingWebhookConfiguration'),
  metadata: kubeMeta,
  webhooks: z
    .array(
      z.looseObject({
        name: z.string(),
        clientConfig: z.looseObject({ caBundle: z.string().optional() }),
      }),
    )
    .nullish(),
});
export type MutatingWebhookConfiguration = z.infer<typeof mutatingWebhookConfigurationSchema>;

/** The sidecar injector's webhook configuration, whose caBundle the controller keeps current. */
export const mutatingWebhookConfigurations: ResourceKind<MutatingWebhookConfiguration> = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural: 'mutatingwebhookconfigurations',
  kind: 'MutatingWebhookConfiguration',
  namespaced: false,
  schema: mutatingWebhookConfigurationSchema,
};
