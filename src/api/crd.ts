// Builds the CustomResourceDefinitions for modelroute.io from the zod schemas,
// so the API server validates exactly what local mode and `validate` do.
import { z } from 'zod';
import {
  GROUP,
  VERSION,
  modelAPIKeySpec,
  modelAPIKeyStatus,
  modelBackendGrantSpec,
  modelBackendGrantStatus,
  modelBackendSpec,
  modelBackendStatus,
  modelRouteSpec,
  modelRouteStatus,
  modelTenantSpec,
  modelTenantStatus,
} from './v1alpha1/index.js';

/** An OpenAPI v3 schema node as Kubernetes accepts it (structural). */
export interface JsonSchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  additionalProperties?: JsonSchemaNode | boolean;
  required?: string[];
  [keyword: string]: unknown;
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced';
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: JsonSchemaNode };
    }[];
  };
}

/**
 * zod's JSON Schema is close to what Kubernetes wants; this removes the parts a
 * structural schema forbids or that only add noise (closed objects are
 * enforced by the API server's pruning and strict field validation instead).
 */
export function toStructural(node: unknown): JsonSchemaNode {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    throw new Error(`expected a schema object, got ${JSON.stringify(node)}`);
  }
  const out: JsonSchemaNode = {};
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (key === '$schema' || key === 'id') continue;
    if (key === 'additionalProperties' && value === false) continue;
    // zod's integer bounds (±(2^53 - 1)) are kept: without them the API server
    // stores any int64, which JavaScript cannot hold exactly and zod then
    // refuses, so the controller skipped the object (issue 11 class 8).
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toStructural(v)]),
      );
    } else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) {
      out[key] = toStructural(value);
    } else {
      out[key] = value;
    }
  }
  if (out.type === undefined) {
    throw new Error(
      `schema node without a type is not structural: ${JSON.stringify(node).slice(0, 200)}`,
    );
  }
  return out;
}

function schemaOf(spec: z.ZodType, status: z.ZodType, description: string): JsonSchemaNode {
  const convert = (s: z.ZodType) =>
    toStructural(z.toJSONSchema(s, { io: 'input', target: 'openapi-3.0' }));
  return {
    type: 'object',
    description,
    required: ['spec'],
    properties: {
      apiVersion: {
        type: 'string',
        description: 'APIVersion defines the versioned schema of this representation of an object.',
      },
      kind: {
        type: 'string',
        description:
          'Kind is a string value representing the REST resource this object represents.',
      },
      metadata: { type: 'object' },
      spec: convert(spec),
      status: convert(status),
    },
  };
}

function crd(args: {
  kind: string;
  plural: string;
  shortName: string;
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  columns: PrinterColumn[];
}): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${args.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'modelroute' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: args.kind,
        listKind: `${args.kind}List`,
        plural: args.plural,
        singular: args.kind.toLowerCase(),
        shortNames: [args.shortName],
        categories: ['modelrouting'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: args.columns,
          schema: { openAPIV3Schema: schemaOf(args.spec, args.status, args.description) },
        },
      ],
    },
  };
}

const readyMessage: PrinterColumn = {
  name: 'Message',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].message',
  description: 'Why the resource is or is not Ready.',
  priority: 1,
};
/** Spend against budget today, on routes and tenants (issue 14). */
const spendTodayColumn: PrinterColumn = {
  name: 'Spend/Day',
  type: 'string',
  jsonPath: '.status.spend.day.display',
  description: 'USD spent today (UTC) against the daily budget, e.g. 12.40/50.00.',
};
const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export function modelRouteCRD(): CustomResourceDefinition {
  return crd({
    kind: 'ModelRoute',
    plural: 'modelroutes',
    shortName: 'mr',
    description:
      'ModelRoute is the model name clients call and the policy that picks a ModelBackend for each request.',
    spec: modelRouteSpec,
    status: modelRouteStatus,
    columns: [
      {
        name: 'Model',
        type: 'string',
        jsonPath: '.spec.model',
        description: 'Model name clients send.',
      },
      {
        name: 'Ready',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        description: 'Whether the route serves traffic as declared.',
      },
      {
        name: 'Programmed',
        type: 'string',
        jsonPath: '.status.programmed',
        description: 'Proxies running the current version of the route over proxies selected.',
      },
      {
        name: 'Healthy Backends',
        type: 'string',
        jsonPath: '.status.healthyBackends',
        description: 'Healthy backends over referenced backends.',
      },
      {
        name: 'Requests/1h',
        type: 'integer',
        jsonPath: '.status.usage.requests',
        description: 'Requests the proxies served for this route in the last hour.',
      },
      {
        name: 'Cost/1h (USD)',
        type: 'number',
        jsonPath: '.status.usage.costUSD',
        description: 'Estimated spend of those requests, from token counts and backend pricing.',
      },
      {
        name: 'Strong',
        type: 'number',
        jsonPath: '.status.strongShare.realized',
        description:
          "Share of the strongShare rule's requests the proxies sent to the strongest backend in the last hour.",
      },
      spendTodayColumn,
      {
        name: 'Cost/24h (USD)',
        type: 'number',
        jsonPath: '.status.cost.last24h.costUSD',
        description: 'Estimated spend over the last 24 hours, from the usage ledger.',
      },
      {
        name: 'Saved/30d',
        type: 'string',
        jsonPath: '.status.cost.savings',
        description:
          "What the route's policy saved over 30 days against its most expensive eligible backend.",
      },
      {
        name: 'Learned',
        type: 'string',
        jsonPath: '.status.learning.model',
        description:
          "The learning rule's model in use, its held-out APGR against the prior, and labels in its window.",
        priority: 1,
      },
      age,
      readyMessage,
    ],
  });
}

export function modelBackendCRD(): CustomResourceDefinition {
  return crd({
    kind: 'ModelBackend',
    plural: 'modelbackends',
    shortName: 'mb',
    description:
      'ModelBackend is one model served at one endpoint, with its pricing, limits and health.',
    spec: modelBackendSpec,
    status: modelBackendStatus,
    columns: [
      { name: 'Provider', type: 'string', jsonPath: '.spec.provider', description: 'API dialect.' },
      {
        name: 'Model',
        type: 'string',
        jsonPath: '.spec.model',
        description: 'Upstream model name.',
      },
      {
        name: 'Health',
        type: 'string',
        jsonPath: '.status.health.state',
        description: 'Healthy, Unhealthy or Unknown.',
      },
      {
        name: '$/1M In',
        type: 'number',
        jsonPath: '.spec.pricing.inputPerMillion',
        description: 'USD per million input tokens.',
      },
      {
        name: '$/1M Out',
        type: 'number',
        jsonPath: '.spec.pricing.outputPerMillion',
        description: 'USD per million output tokens.',
      },
      age,
      readyMessage,
    ],
  });
}

export function modelTenantCRD(): CustomResourceDefinition {
  return crd({
    kind: 'ModelTenant',
    plural: 'modeltenants',
    shortName: 'mtn',
    description:
      'ModelTenant maps verified callers (pods, ServiceAccounts, namespaces, API keys) to a tenant with a priority, the routes and models it may use, and the headers it is trusted to set.',
    spec: modelTenantSpec,
    status: modelTenantStatus,
    columns: [
      {
        name: 'Priority',
        type: 'string',
        jsonPath: '.spec.priority',
        description: 'Priority class: high, normal or low.',
      },
      {
        name: 'Workloads',
        type: 'integer',
        jsonPath: '.status.identities.workloads',
        description: 'Proxy pods of this namespace whose workload resolves to the tenant.',
      },
      {
        name: 'Keys',
        type: 'integer',
        jsonPath: '.status.identities.apiKeys',
        description: 'Valid virtual API keys of the tenant.',
      },
      {
        name: 'Conflicts',
        type: 'integer',
        jsonPath: '.status.conflictCount',
        description: 'Identities another tenant claims as well.',
      },
      spendTodayColumn,
      {
        name: 'Spend/Month',
        type: 'string',
        jsonPath: '.status.spend.month.display',
        description: 'USD spent this calendar month (UTC) against the monthly budget.',
        priority: 1,
      },
      {
        name: 'Cost/24h (USD)',
        type: 'number',
        jsonPath: '.status.cost.last24h.costUSD',
        description:
          "Estimated spend of the tenant's requests over the last 24 hours, from the usage ledger.",
      },
      {
        name: 'Cost/30d (USD)',
        type: 'number',
        jsonPath: '.status.cost.last30d.costUSD',
        description: "Estimated spend of the tenant's requests over the last 30 days.",
        priority: 1,
      },
      age,
      readyMessage,
    ],
  });
}

export function modelAPIKeyCRD(): CustomResourceDefinition {
  return crd({
    kind: 'ModelAPIKey',
    plural: 'modelapikeys',
    shortName: 'mak',
    description:
      'ModelAPIKey is a virtual API key for the gateways of its namespace; only its SHA-256 hash is stored. Create with `modelroute keys create`.',
    spec: modelAPIKeySpec,
    status: modelAPIKeyStatus,
    columns: [
      {
        name: 'Tenant',
        type: 'string',
        jsonPath: '.spec.tenant',
        description: 'Tenant it calls as.',
      },
      {
        name: 'Prefix',
        type: 'string',
        jsonPath: '.spec.prefix',
        description: 'Start of the key.',
      },
      {
        name: 'Revoked',
        type: 'boolean',
        jsonPath: '.spec.revoked',
        description: 'Refused when true.',
      },
      {
        name: 'Expires',
        type: 'date',
        jsonPath: '.spec.expiresAt',
        description: 'When it stops working.',
      },
      age,
    ],
  });
}

export function modelBackendGrantCRD(): CustomResourceDefinition {
  return crd({
    kind: 'ModelBackendGrant',
    plural: 'modelbackendgrants',
    shortName: 'mbg',
    description:
      "ModelBackendGrant lets ModelRoutes of other namespaces use this namespace's ModelBackends (and, through the proxies, their credentials).",
    spec: modelBackendGrantSpec,
    status: modelBackendGrantStatus,
    columns: [
      {
        name: 'From',
        type: 'string',
        jsonPath: '.spec.from[*].namespace',
        description: 'Namespaces allowed.',
      },
      {
        name: 'Backends',
        type: 'string',
        jsonPath: '.spec.backends',
        description: 'Backends they may use (empty: all).',
      },
      age,
    ],
  });
}

/** Every CRD modelroute installs, in install order. */
export function allCRDs(): CustomResourceDefinition[] {
  return [
    modelRouteCRD(),
    modelBackendCRD(),
    modelTenantCRD(),
    modelAPIKeyCRD(),
    modelBackendGrantCRD(),
  ];
}
