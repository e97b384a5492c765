// modelroute.io/v1alpha1: the API users write. The zod schemas here are the
// single source of truth for types, CRDs, offline validation and docs.
export * from './common.js';
export * from './modelbackend.js';
export * from './modelroute.js';
export * from './conditions.js';
export * from './header-regex.js';
export * from './modeltenant.js';
export * from './modelapikey.js';
export * from './modelbackendgrant.js';
export * from './quota.js';
