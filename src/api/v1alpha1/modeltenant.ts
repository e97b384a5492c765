// ModelTenant: who is calling. Maps verified identities (the calling pod in
// sidecar mode, a ServiceAccount token or a virtual API key at a gateway) to
// a tenant with a priority class, the routes and models it may use, the
// request headers it is trusted to set, and its limits. Rules match on the
// verified tenant and priority, never on what a client writes in a header.
//
// A ModelTenant governs the requests served by the proxies of its own
// namespace: the platform team that runs a gateway namespace owns the tenants
// there; in sidecar mode the namespace's owners declare their workloads'.
import { z } from 'zod';
import {
  API_VERSION,
  conditions,
  count,
  labelName,
  labelSelector,
  objectMeta,
  objectName,
} from './common.js';
import { capability } from './modelbackend.js';
import { costStatus, fleetLimitStatus, spendBudget, spendStatus, tenantLimits } from './quota.js';

export const PRIORITY_CLASSES = ['high', 'normal', 'low'] as const;
export const priorityClass = z.enum(PRIORITY_CLASSES);
export type PriorityClass = z.infer<typeof priorityClass>;

/**
 * Request headers a tenant may be trusted to set. Untrusted, they are ignored
 * (and the response says so in `x-modelroute-ignored-headers`).
 *   tenant:       x-modelroute-tenant — act for another tenant of this namespace (an app's own gateway)
 *   priority:     x-modelroute-priority — lower (or raise) its own priority class
 *   task:         x-modelroute-task
 *   compliance:   x-modelroute-compliance — add compliance tags to its own
 *   capabilities: x-modelroute-capabilities
 */
export const TRUSTABLE_HEADERS = [
  'tenant',
  'priority',
  'task',
  'compliance',
  'capabilities',
] as const;
export const trustableHeader = z.enum(TRUSTABLE_HEADERS);
export type TrustableHeader = z.infer<typeof trustableHeader>;

/** The tenant a caller no ModelTenant covers gets, when the controller does not deny them. */
export const DEFAULT_TENANT = 'default';

const MAX_IDENTITIES = 64;

export const serviceAccountRef = z
  .strictObject({
    namespace: objectName
      .optional()
      .describe("Namespace of the ServiceAccount; default the tenant's namespace."),
    name: objectName.describe('ServiceAccount name.'),
  })
  .describe('A Kubernetes ServiceAccount.');
export type ServiceAccountRef = z.infer<typeof serviceAccountRef>;

export const tenantIdentities = z
  .strictObject({
    serviceAccounts: z
      .array(serviceAccountRef)
      .max(MAX_IDENTITIES)
      .optional()
      .describe(
        'Callers running as one of these ServiceAccounts: a sidecar-injected pod, or a gateway caller presenting its token.',
      ),
    namespaces: z
      .array(objectName)
      .max(MAX_IDENTITIES)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('Callers from any ServiceAccount of these namespaces.'),
    workloads: labelSelector
      .optional()
      .describe(
        "Sidecar-injected pods of the tenant's namespace whose labels match (labels recorded at admission).",
      ),
  })
  .describe(
    'Who the tenant is: any of these identities resolves to it. Virtual API keys name their tenant themselves (ModelAPIKey.spec.tenant).',
  );
export type TenantIdentities = z.infer<typeof tenantIdentities>;

export const modelTenantSpec = z
  .strictObject({
    priority: priorityClass
      .default('normal')
      .describe('Priority class: high, normal or low. Rules match it with matches.priorities.'),
    identities: tenantIdentities.default({}),
    routes: z
      .array(objectName)
      .max(MAX_IDENTITIES)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe(
        'ModelRoutes of this namespace the tenant may use; absent: all of them. Others answer 403.',
      ),
    models: z
      .array(z.string().min(1).max(256))
      .max(MAX_IDENTITIES)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('Client model names the tenant may request; absent: all of them.'),
    compliance: z
      .array(labelName)
      .max(32)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe(
        'Compliance tags every request of the tenant requires: only backends carrying all of them serve it.',
      ),
    capabilities: z
      .array(capability)
      .max(16)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('Capabilities every request of the tenant needs.'),
    task: labelName
      .optional()
      .describe('Task kind of every request (rules match it with matches.tasks).'),
    trustedHeaders: z
      .array(trustableHeader)
      .max(TRUSTABLE_HEADERS.length)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe(
        'Request headers the tenant’s callers may set (tenant, priority, task, compliance, capabilities); all others are ignored.',
      ),
    limits: tenantLimits.optional(),
    budget: spendBudget.optional(),
  })
  .describe('Who a tenant is and what it may do.');
export type ModelTenantSpec = z.infer<typeof modelTenantSpec>;

export const tenantConflict = z.strictObject({
  identity: z
    .string()
    .max(512)
    .describe('The identity claimed twice, e.g. serviceAccount team-a/billing.'),
  tenants: z.array(objectName).max(16).describe('Every tenant that claims it.'),
  winner: objectName.describe('The tenant the identity resolves to.'),
});

export const modelTenantStatus = z
  .strictObject({
    observedGeneration: count.optional().describe('The metadata.generation this status describes.'),
    conditions: conditions.optional(),
    identities: z
      .strictObject({
        serviceAccounts: count.describe('ServiceAccounts named.'),
        namespaces: count.describe('Namespaces named.'),
        workloads: count.describe('Proxy pods of this namespace whose workload resolves here.'),
        apiKeys: count.describe(
          'Virtual API keys of this tenant that are valid (not revoked or expired).',
        ),
      })
      .optional()
      .describe('What resolved to this tenant.'),
    conflicts: z
      .array(tenantConflict)
      .max(16)
      .optional()
      .describe(
        'Identities another tenant of this namespace claims as well; the more specific claim wins (ServiceAccount over workload labels over namespace), then the name that sorts first.',
      ),
    conflictCount: count.optional().describe('How many conflicts there are.'),
    spend: spendStatus.optional(),
    cost: costStatus.optional(),
    limits: fleetLimitStatus.optional(),
  })
  .describe('Observed state of a ModelTenant.');
export type ModelTenantStatus = z.infer<typeof modelTenantStatus>;

export const modelTenant = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ModelTenant'),
  metadata: objectMeta,
  spec: modelTenantSpec,
  status: modelTenantStatus.optional(),
});
export type ModelTenant = z.infer<typeof modelTenant>;
export type ModelTenantInput = z.input<typeof modelTenant>;
