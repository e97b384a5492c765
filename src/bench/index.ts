// Benchmarks of the data plane: `modelroute bench proxy` and its parts.
export { BENCH_USAGE, parseBenchArgs, parseDurationMs, type BenchOptions } from './args.js';
export { benchDecision, type DecisionResult } from './decision.js';
export { LatencySamples, overheadOf, percentile, ratio, round } from './histogram.js';
export { runProxyOverhead } from './proxy-overhead.js';
export { formatReport } from './report.js';
