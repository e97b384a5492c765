// The routing core: pure functions from declarations and request facts to
// routing tables and per-request decisions. No Kubernetes, no HTTP, no hidden
// clock or randomness.
export * from './compile.js';
export * from './cost.js';
export * from './facts.js';
export * from './live-state.js';
export * from './match.js';
export * from './prepared-table.js';
export * from './select.js';
export * from './semantics.js';
export * from './table.js';
export type { Candidate, CostQualityChoice, StrategyContext } from './strategies/index.js';
export * from './random.js';
export * from './health-tracker.js';
