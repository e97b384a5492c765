// Telemetry for the proxy and the controller: JSON logs, Prometheus metrics, OpenTelemetry traces.
export * from './genai.js';
export * from './logger.js';
export * from './proxy-metrics.js';
export * from './tracing.js';
