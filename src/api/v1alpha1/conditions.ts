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
  /** ModelAPIKey: whether gateways accept the key now. */
  Valid: 'Valid',
  /** ModelTenant: an identity it names is claimed by another tenant of its namespace too. */
  Conflicted: 'Conflicted',
  /** ModelRoute, ModelTenant: spend in a day or month window reached 80% of its budget. */
  BudgetWarning: 'BudgetWarning',
  /** ModelRoute, ModelTenant: spend in a day or month window reached its budget. */
  BudgetExceeded: 'BudgetExceeded',
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
  /** ModelRoute: not programmed because it is not Accepted (and no earlier version is). */
  NotAccepted: 'NotAccepted',
  /** ModelRoute: a selected proxy refuses the table push (named in the message). */
  PushFailed: 'PushFailed',
  Ready: 'Ready',
  NotReady: 'NotReady',
  Healthy: 'Healthy',
  Unhealthy: 'Unhealthy',
  ProbeFailed: 'ProbeFailed',
  /** The backend answered 404 where its API should be: spec.endpoint (or the probe path) is wrong. */
  EndpointPathNotFound: 'EndpointPathNotFound',
  /** The backend refused the credential (401/403), to a probe holding the key or to proxies' calls. */
  CredentialRefused: 'CredentialRefused',
  /** The backend answered with a redirect, which neither probes nor proxies follow. */
  EndpointRedirects: 'EndpointRedirects',
  /** The backend said to slow down (429). */
  RateLimited: 'RateLimited',
  /** Calls through the proxies failed (passive health). */
  CallsFailing: 'CallsFailing',
  /** The Secret exists but holds no entry under spec.secretRef.key. */
  SecretKeyMissing: 'SecretKeyMissing',
  SecretNotFound: 'SecretNotFound',
  EndpointUnresolved: 'EndpointUnresolved',
  NoReadyEndpoints: 'NoReadyEndpoints',
  /** ModelBackend: the controller may not read Secrets in its namespace (RBAC), so the key is not checked. */
  SecretNotReadable: 'SecretNotReadable',
  /** ModelRoute: a granted backend whose credentials its proxies cannot get. */
  CredentialsUnavailable: 'CredentialsUnavailable',
  /** ModelRoute: a ref to another namespace's backend that no ModelBackendGrant there allows. */
  RefNotPermitted: 'RefNotPermitted',
  /** ModelAPIKey: accepted by the gateways of its namespace. */
  Valid: 'Valid',
  /** ModelAPIKey: spec.revoked is set. */
  Revoked: 'Revoked',
  /** ModelAPIKey: spec.expiresAt has passed. */
  Expired: 'Expired',
  /** ModelAPIKey: no ModelTenant of spec.tenant's name in its namespace. */
  TenantNotFound: 'TenantNotFound',
  /** ModelTenant: identities it names are claimed by another tenant as well. */
  IdentityConflict: 'IdentityConflict',
  /** ModelTenant: no identity it names is claimed by another tenant. */
  NoConflicts: 'NoConflicts',
  /** ModelRoute, ModelTenant: spend reached 80% of a budget (also the Event's reason). */
  BudgetWarning: 'BudgetWarning',
  /** ModelRoute, ModelTenant: spend reached a budget (also the Event's reason). */
  BudgetExceeded: 'BudgetExceeded',
  /** ModelRoute, ModelTenant: spend in every window is below the threshold. */
  WithinBudget: 'WithinBudget',
} as const;
export type ConditionReason = (typeof ConditionReason)[keyof typeof ConditionReason];
