// The chart's OpenTelemetry and access-log values (issue 16): the controller
// and the gateway get the standard OTEL_* variables, injected sidecars get
// them through the controller (MODELROUTE_SIDECAR_OTEL_*, renamed by the
// webhook), and nothing at all when no endpoint is set.
import { helm } from '../support/cluster.js';
import {
  CHART_DIR,
  deploymentSpec,
  findObject,
  flag,
  renderChart,
  valuesFile,
  type ContainerSpec,
  type K8sObject,
} from './chart.js';

const container = (objects: K8sObject[], name: string): ContainerSpec =>
  deploymentSpec(findObject(objects, 'Deployment', name)).template.spec.containers[0]!;
type Env = { name: string; value?: string; valueFrom?: unknown }[];
const envOf = (objects: K8sObject[], name: string) => container(objects, name).env as Env;
const otel = (env: Env) => env.filter((e) => /^(MODELROUTE_SIDECAR_)?OTEL_/.test(e.name));

test('no endpoint: no OTEL variable anywhere; access log on for the gateway, off for sidecars', () => {
  const objects = renderChart({ gateway: { enabled: true } });
  expect(otel(envOf(objects, 'modelroute-controller'))).toEqual([]);
  expect(otel(envOf(objects, 'modelroute-gateway'))).toEqual([]);
  expect(flag(container(objects, 'modelroute-gateway').args, 'access-log-sample-rate')).toBe('1');
  expect(
    flag(container(objects, 'modelroute-controller').args, 'sidecar-access-log-sample-rate'),
  ).toBe('0');
});

test('an endpoint: OTEL_* for the controller and the gateway, headers from a Secret, the sidecars through the controller', () => {
  const objects = renderChart({
    gateway: { enabled: true },
    telemetry: {
      otlp: {
        endpoint: 'http://otel-collector.observability:4318',
        headersSecret: { name: 'otlp-auth' },
      },
      sampler: 'parentbased_traceidratio',
      samplerArg: 0.25,
      resourceAttributes: { 'deployment.environment.name': 'prod' },
    },
    accessLog: { sidecarSampleRate: 0.05 },
  });
  const expected = [
    { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability:4318' },
    { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'http/protobuf' },
    { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
    { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.25' },
    { name: 'OTEL_METRICS_EXPORTER', value: 'otlp' },
    {
      name: 'OTEL_RESOURCE_ATTRIBUTES',
      value:
        'k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME),deployment.environment.name=prod',
    },
    {
      name: 'OTEL_EXPORTER_OTLP_HEADERS',
      valueFrom: { secretKeyRef: { name: 'otlp-auth', key: 'headers' } },
    },
  ];
  const controller = envOf(objects, 'modelroute-controller');
  const gateway = envOf(objects, 'modelroute-gateway');
  expect(otel(gateway)).toEqual(expected);
  expect(otel(controller).filter((e) => e.name.startsWith('OTEL_'))).toEqual(expected);
  // $(POD_NAME) and $(POD_NAMESPACE) expand only when defined earlier in the container's env.
  for (const env of [controller, gateway]) {
    const names = env.map((e) => e.name);
    expect(names.indexOf('POD_NAME')).toBeGreaterThanOrEqual(0);
    expect(names.indexOf('POD_NAME')).toBeLessThan(names.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
    expect(names.indexOf('POD_NAMESPACE')).toBeLessThan(names.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
  }
  // What the webhook gives sidecars: the same, without the controller's pod and without
  // the headers (a Secret in each sidecar's own namespace, by flag).
  expect(otel(controller).filter((e) => e.name.startsWith('MODELROUTE_SIDECAR_'))).toEqual([
    ...expected.slice(0, 5).map((e) => ({ ...e, name: `MODELROUTE_SIDECAR_${e.name}` })),
    {
      name: 'MODELROUTE_SIDECAR_OTEL_RESOURCE_ATTRIBUTES',
      value: 'deployment.environment.name=prod',
    },
  ]);
  const args = container(objects, 'modelroute-controller').args;
  expect(flag(args, 'sidecar-otlp-headers-secret')).toBe('otlp-auth');
  expect(flag(args, 'sidecar-otlp-headers-key')).toBe('headers');
  expect(flag(args, 'sidecar-access-log-sample-rate')).toBe('0.05');
});

test('per-part switches, metrics off, and bad values refused by the schema', () => {
  const objects = renderChart({
    gateway: { enabled: true },
    telemetry: {
      otlp: { endpoint: 'http://otel:4318', protocol: 'grpc' },
      metrics: false,
      gateway: false,
      sidecars: false,
    },
  });
  expect(otel(envOf(objects, 'modelroute-gateway'))).toEqual([]);
  const controller = otel(envOf(objects, 'modelroute-controller'));
  expect(controller.map((e) => e.name)).not.toContain(
    'MODELROUTE_SIDECAR_OTEL_EXPORTER_OTLP_ENDPOINT',
  );
  expect(controller).toContainEqual({ name: 'OTEL_METRICS_EXPORTER', value: 'none' });
  expect(controller).toContainEqual({ name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'grpc' });

  for (const [values, where] of [
    [{ telemetry: { otlp: { endpoint: 'otel:4318' } } }, '/telemetry/otlp/endpoint'],
    [{ telemetry: { samplerArg: 2 } }, '/telemetry/samplerArg'],
    [{ telemetry: { sampler: 'sometimes' } }, '/telemetry/sampler'],
    [{ accessLog: { sidecarSampleRate: 1.5 } }, '/accessLog/sidecarSampleRate'],
  ] as const) {
    const r = helm(['template', 'modelroute', CHART_DIR, '-f', valuesFile(values)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(where);
  }
});
