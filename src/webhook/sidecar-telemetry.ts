// What an injected sidecar is told about OpenTelemetry and its access log: the
// controller's MODELROUTE_SIDECAR_OTEL_* variables become the sidecar's OTEL_*
// ones (the chart's `telemetry` values), the OTLP headers come from a Secret in
// the pod's namespace, and the pod's name and namespace are resource attributes.

/** A controller variable with this prefix is given to every sidecar without it: MODELROUTE_SIDECAR_OTEL_X → OTEL_X. */
export const SIDECAR_OTEL_PREFIX = 'MODELROUTE_SIDECAR_';
const OTEL_NAME = /^OTEL_[A-Z0-9_]+$/;
const HEADERS = 'OTEL_EXPORTER_OTLP_HEADERS';
const RESOURCE_ATTRIBUTES = 'OTEL_RESOURCE_ATTRIBUTES';

export interface SidecarTelemetry {
  /** OTEL_* variables, set literally in each sidecar (never credentials: see headersSecret). */
  otelEnv: Record<string, string>;
  /** OTEL_EXPORTER_OTLP_HEADERS from this Secret and key in the pod's namespace (optional there). */
  headersSecret?: { name: string; key: string } | undefined;
  /** The sidecar's --access-log-sample-rate; absent: the proxy's default (off). */
  accessLogSampleRate?: number | undefined;
}

/**
 * The OTEL_* variables for sidecars from the controller's environment, or why
 * one is refused. Headers are refused as a literal: they usually carry a
 * collector's credentials, which would then be readable in every pod spec.
 */
export function sidecarOtelEnvFrom(
  env: NodeJS.ProcessEnv,
): { ok: true; otelEnv: Record<string, string> } | { ok: false; message: string } {
  const otelEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(`${SIDECAR_OTEL_PREFIX}OTEL_`) || value === undefined || value === '')
      continue;
    const otel = name.slice(SIDECAR_OTEL_PREFIX.length);
    if (!OTEL_NAME.test(otel))
      return {
        ok: false,
        message: `${name}: not an OpenTelemetry variable name (OTEL_ followed by capitals, digits and _)`,
      };
    if (otel === HEADERS)
      return {
        ok: false,
        message: `${name}: OTLP headers usually hold credentials and would be readable in every pod spec; put them in a Secret in each namespace with sidecars and pass --sidecar-otlp-headers-secret`,
      };
    otelEnv[otel] = value;
  }
  return { ok: true, otelEnv };
}

/**
 * The sidecar container's env entries. They follow POD_NAME and POD_NAMESPACE
 * in the container (the $(VAR) references in the resource attributes need them first).
 */
export function sidecarTelemetryEnv(
  telemetry: SidecarTelemetry | undefined,
): Record<string, unknown>[] {
  if (!telemetry || Object.keys(telemetry.otelEnv).length === 0) return [];
  const entries: Record<string, unknown>[] = [];
  for (const [name, value] of Object.entries(telemetry.otelEnv).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    if (name === RESOURCE_ATTRIBUTES) continue;
    entries.push({ name, value });
  }
  // Which pod a span or metric came from; the operator's own attributes after, so theirs win.
  const own = telemetry.otelEnv[RESOURCE_ATTRIBUTES];
  entries.push({
    name: RESOURCE_ATTRIBUTES,
    value: `k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME)${own ? `,${own}` : ''}`,
  });
  if (telemetry.headersSecret)
    entries.push({
      name: HEADERS,
      // Optional: a namespace without the Secret still starts its pods (export is then refused
      // by a collector that wants the headers, which its own logs show).
      valueFrom: {
        secretKeyRef: {
          name: telemetry.headersSecret.name,
          key: telemetry.headersSecret.key,
          optional: true,
        },
      },
    });
  return entries;
}

/** The sidecar's extra proxy arguments. */
export function sidecarTelemetryArgs(telemetry: SidecarTelemetry | undefined): string[] {
  return telemetry?.accessLogSampleRate !== undefined
    ? [`--access-log-sample-rate=${telemetry.accessLogSampleRate}`]
    : [];
}
