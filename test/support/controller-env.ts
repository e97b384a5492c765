// Proxies registered as Pod objects and simulated backends, for controller
// tests: what a cluster would run, made of local processes on loopback.
import { startController, type RunningController } from '../../src/controller/controller.js';
import { createKubeClient } from '../../src/k8s/kube-client.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import type { SimulatedBackend } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { DEFAULT_SIDECAR_CONFIG } from '../../src/webhook/sidecar-patch.js';
import type { SidecarInjectorSettings } from '../../src/webhook/sidecar-injector.js';
import { kubectlAt, parseTable, testenv, type CommandResult } from './cluster.js';

export const ADMIN_TOKEN = 'controller-test-admin-token-0123456789';
export const quietLogger = () => createLogger({ level: 'error', write: () => {} });

export class ClusterHandle {
  constructor(
    readonly namespace: string,
    readonly kubeconfig: string = testenv.kubeconfig,
  ) {}

  kubectl(args: string[], input?: string): CommandResult {
    return kubectlAt(this.kubeconfig, args, input);
  }

  must(args: string[], input?: string): string {
    const r = this.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  apply(objects: object[]): void {
    this.must(
      ['apply', '-n', this.namespace, '-f', '-'],
      objects.map((o) => JSON.stringify(o)).join('\n'),
    );
  }

  json<T>(args: string[]): T {
    return JSON.parse(this.must([...args, '-n', this.namespace, '-o', 'json'])) as T;
  }

  row(resource: string, name: string): Record<string, string> | undefined {
    return parseTable(this.must(['get', resource, '-n', this.namespace])).find(
      (r) => r.NAME === name,
    );
  }

  /**
   * Registers a running proxy as a Ready Pod at its loopback address;
   * `containers` replaces the placeholder one (e.g. an injected proxy
   * container carrying MODELROUTE_WORKLOAD); `spec` adds pod spec fields
   * (e.g. serviceAccountName, for a token bound to the pod).
   */
  registerProxy(
    name: string,
    proxy: Pick<RunningProxy, 'adminUrl'>,
    containers: object[] = [{ name: 'proxy', image: 'modelroute:test' }],
    spec: Record<string, unknown> = {},
  ): void {
    const ip = new URL(proxy.adminUrl).hostname;
    this.apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          labels: { 'modelroute.io/proxy': 'true' },
          annotations: { 'modelroute.io/admin-port': new URL(proxy.adminUrl).port },
        },
        spec: { ...spec, containers },
      },
    ]);
    this.markRunning(name, ip);
  }

  /** Running and Ready at `ip`, as a kubelet would report it (the controller pushes to it there). */
  markRunning(name: string, ip: string): void {
    const status = {
      status: {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          },
        ],
      },
    };
    this.must([
      'patch',
      'pod',
      name,
      '-n',
      this.namespace,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify(status),
    ]);
  }
}

export function backendObject(
  name: string,
  sim: SimulatedBackend,
  spec: Record<string, unknown> = {},
): object {
  return {
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name },
    spec: {
      provider: 'openai-compatible',
      endpoint: `${sim.url}/v1`,
      model: `${name}-upstream`,
      healthCheck: { interval: '1s', timeout: '1s', unhealthyThreshold: 2, healthyThreshold: 1 },
      ...spec,
    },
  };
}

/**
 * The controller's webhook server as the chart runs it (certificate Secret
 * and configuration names from manifests/rbac), on loopback, with the
 * credential endpoint delivering keys of `credentialNamespaces`.
 */
export function loopbackWebhook(
  credentialNamespaces: string[],
  credentialRefreshSeconds: number,
): SidecarInjectorSettings {
  return {
    host: '127.0.0.1',
    port: 0,
    serviceName: 'modelroute-webhook',
    namespace: 'modelroute-system',
    secretName: WEBHOOK_CERT_SECRET,
    configName: 'modelroute-sidecar-injector',
    extraSans: ['127.0.0.1'],
    sidecar: { ...DEFAULT_SIDECAR_CONFIG, image: 'modelroute:test' },
    credentialNamespaces,
    credentialRefreshSeconds,
  };
}

/** The Secret the controller keeps its webhook CA and serving certificate in. */
export const WEBHOOK_CERT_SECRET = 'modelroute-webhook-cert';

export function routeObject(
  name: string,
  backends: string[],
  extra: Record<string, unknown> = {},
): object {
  return {
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name },
    spec: {
      model: name,
      rules: [
        { name: 'main', strategy: 'priority', backendRefs: backends.map((b) => ({ name: b })) },
      ],
      ...extra,
    },
  };
}

export async function startTestProxy(
  host: string,
  options: { tableFile?: string; port?: number; adminPort?: number } = {},
): Promise<RunningProxy> {
  return startProxy({
    host,
    dataPort: options.port ?? 0,
    adminPort: options.adminPort ?? 0,
    tableFile: options.tableFile,
    adminToken: { value: ADMIN_TOKEN },
    logger: quietLogger(),
  });
}

/** A controller replica for the cluster's namespace, reading stats every 300 ms (it may stand by). */
export function startFastReplica(
  cluster: ClusterHandle,
  identity: string,
  extra: {
    leaseDurationMs?: number;
    health?: { host: string; port: number };
    ledgerFlushIntervalMs?: number;
    learningFlushIntervalMs?: number;
  } = {},
): Promise<RunningController> {
  return startController({
    client: createKubeClient({ kubeconfigPath: testenv.kubeconfig }),
    namespace: cluster.namespace,
    adminToken: ADMIN_TOKEN,
    identity,
    leaseNamespace: cluster.namespace,
    leaseDurationMs: 3_000,
    logger: quietLogger(),
    statsIntervalMs: 300,
    usageIntervalMs: 1_000,
    ...extra,
  });
}
