// Computes a ModelBackend's status: endpoint resolution, credentials
// presence (never their value), health with hysteresis, observed outcomes.
import {
  ConditionReason,
  ConditionType,
  type ModelBackend,
  type ModelBackendStatus,
} from '../../api/v1alpha1/index.js';
import type { FleetLimitStatus } from '../../api/v1alpha1/quota.js';
import type { HealthRecord } from '../../routing/health-tracker.js';
import { displayEndpoint } from '../../routing/endpoint-display.js';
import { kubeTime, mergeConditions, type ConditionInput } from './conditions.js';

export interface BackendStatusInput {
  backend: ModelBackend;
  /** The base URL proxies use, or why it cannot be resolved. */
  endpoint: { ok: true; url: string } | { ok: false; message: string };
  /** undefined when the backend references no Secret, or it could not be read. */
  secretExists: boolean | undefined;
  /** Whether the Secret holds spec.secretRef.key; undefined when unknown or no Secret. */
  secretHasKey?: boolean | undefined;
  /** The controller may not read Secrets in the backend's namespace (RBAC): it cannot check. */
  secretNotReadable?: boolean | undefined;
  /**
   * Ready addresses behind a serviceRef backend's Service, from its
   * EndpointSlices; undefined when not known (no serviceRef, or no slices).
   */
  readyEndpoints?: number | undefined;
  health: HealthRecord;
  /** Outcomes reported by proxies over the recent window. */
  observed?: { latencyMs?: number; errorRate?: number; requests?: number } | undefined;
  /** How the fleet uses the backend's limits (issue 14); undefined when none or no proxy uses it. */
  limits?: FleetLimitStatus | undefined;
  nowMs: number;
}

export function computeBackendStatus(input: BackendStatusInput): ModelBackendStatus {
  const { backend, endpoint, secretExists, health, nowMs } = input;
  const generation = backend.metadata.generation;

  const healthy: ConditionInput =
    health.state === 'Healthy'
      ? {
          type: ConditionType.Healthy,
          status: 'True',
          reason: ConditionReason.Healthy,
          message: health.message ?? 'answering',
        }
      : health.state === 'Unhealthy'
        ? {
            type: ConditionType.Healthy,
            status: 'False',
            reason: health.reason ?? ConditionReason.ProbeFailed,
            message: `${health.consecutiveFailures} failed checks in a row; last: ${health.message ?? 'no answer'}`,
          }
        : {
            type: ConditionType.Healthy,
            status: 'Unknown',
            reason: 'NotProbedYet',
            message: health.message ?? 'no health check result yet',
          };

  let ready: ConditionInput;
  if (!endpoint.ok) {
    ready = {
      type: ConditionType.Ready,
      status: 'False',
      reason: ConditionReason.EndpointUnresolved,
      message: endpoint.message,
    };
  } else if (secretExists === false) {
    const ref = backend.spec.secretRef;
    ready = {
      type: ConditionType.Ready,
      status: 'False',
      reason: ConditionReason.SecretNotFound,
      message: `Secret "${ref?.name ?? ''}" (key "${ref?.key ?? ''}") not found in namespace ${backend.metadata.namespace ?? 'default'}; create it or fix spec.secretRef`,
    };
  } else if (input.secretHasKey === false) {
    const ref = backend.spec.secretRef;
    ready = {
      type: ConditionType.Ready,
      status: 'False',
      reason: ConditionReason.SecretKeyMissing,
      message: `Secret "${ref?.name ?? ''}" in namespace ${backend.metadata.namespace ?? 'default'} has no key "${ref?.key ?? ''}", so proxies have no API key to send; add the key to the Secret or fix spec.secretRef.key`,
    };
  } else if (input.readyEndpoints === 0) {
    const service = backend.spec.serviceRef?.name ?? '';
    ready = {
      type: ConditionType.Ready,
      status: 'False',
      reason: ConditionReason.NoReadyEndpoints,
      message: `Service "${service}" has no ready endpoints: no Pod behind it is Ready (see kubectl get endpointslices -l kubernetes.io/service-name=${service})`,
    };
  } else if (health.state === 'Unhealthy') {
    ready = {
      type: ConditionType.Ready,
      status: 'False',
      reason: ConditionReason.Unhealthy,
      message: healthy.message,
    };
  } else if (input.secretNotReadable) {
    const ref = backend.spec.secretRef;
    const ns = backend.metadata.namespace ?? 'default';
    ready = {
      type: ConditionType.Ready,
      status: 'Unknown',
      reason: ConditionReason.SecretNotReadable,
      message: `the controller may not read Secrets in namespace ${ns}, so whether Secret "${ref?.name ?? ''}" holds key "${ref?.key ?? ''}" is not checked (same-namespace proxies get it mounted); to have it checked and delivered to other namespaces, keep the backend in a platform namespace (chart value platformNamespaces)`,
    };
  } else {
    ready = {
      type: ConditionType.Ready,
      status: 'True',
      reason: ConditionReason.Ready,
      message:
        health.state === 'Healthy'
          ? `serving at ${displayEndpoint(endpoint.url)}`
          : `resolved to ${displayEndpoint(endpoint.url)}; waiting for the first health check`,
    };
  }

  const status: ModelBackendStatus = {
    conditions: mergeConditions(backend.status?.conditions, [ready, healthy], generation, nowMs),
    health: {
      state: health.state,
      reason: healthy.reason,
      message: healthy.message,
      consecutiveFailures: health.consecutiveFailures,
      consecutiveSuccesses: health.consecutiveSuccesses,
    },
  };
  if (health.lastProbeTime !== undefined)
    status.health!.lastProbeTime = kubeTime(health.lastProbeTime);
  if (health.lastTransitionTime !== undefined)
    status.health!.lastTransitionTime = kubeTime(health.lastTransitionTime);
  if (generation !== undefined) status.observedGeneration = generation;
  if (endpoint.ok) status.resolvedEndpoint = displayEndpoint(endpoint.url);
  if (input.observed && Object.keys(input.observed).length > 0)
    status.observed = { ...input.observed };
  if (input.limits) status.limits = { ...input.limits };
  return status;
}
