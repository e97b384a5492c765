// Condition types and reasons modelroute writes, in one place so the
// controller, tests and docs agree on the spelling.

export const ConditionType = {
  /** ModelRoute: the spec passed the checks beyond the schema. */
  Accepted: 'Accepted',
  /** ModelRoute: every referenced backend (and fallback route) exists. */
  ResolvedRefs: 'ResolvedRefs',
  /** ModelRoute: every selected proxy acknowledged the current table. */
  Programmed: 'Programmed',
  /** Both kinds: the summary a user looks at first. */
  Ready: 'Ready',
  /** ModelBackend: probes and proxy outcomes say the backend answers. */
  Healthy: 'Healthy',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const ConditionReason = {
  Accepted: 'Accepted',
  Invalid: 'Invalid',
  /** The API server stored the object but the controller's schema refuses it (a field path says why). */
  InvalidSpec: 'InvalidSpec',
  ModelConflict: 'ModelConflict',
  ResolvedRefs: 'ResolvedRefs',
  BackendNotFound: 'BackendNotFound',
  FallbackRouteNotFound: 'FallbackRouteNotFound',
  Programmed: 'Programmed',
  Pending: 'Pending',
  NoProxies: 'NoProxies',
  Ready: 'Ready',
  NotReady: 'NotReady',
  Healthy: 'Healthy',
  Unhealthy: 'Unhealthy',
  ProbeFailed: 'ProbeFailed',
  SecretNotFound: 'SecretNotFound',
  EndpointUnresolved: 'EndpointUnresolved',
  NoReadyEndpoints: 'NoReadyEndpoints',
} as const;
export type ConditionReason = (typeof ConditionReason)[keyof typeof ConditionReason];
