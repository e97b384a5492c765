// The Helm chart as rendered: lint-clean, the same RBAC and CRDs as the
// repository's sources of truth, the controller/webhook/gateway contract, a
// schema that names the wrong key, and output the real API server accepts.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { REPO_ROOT, helm, kubectl, mustKubectl, testenv } from '../support/cluster.js';
import {
  CHART_DIR,
  deploymentSpec,
  findObject,
  flag,
  normalizeRules,
  parseObjects,
  referenceRBAC,
  renderChart,
  repositoryCRDs,
  valuesFile,
  type ContainerSpec,
  type K8sObject,
  type PolicyRule,
} from './chart.js';

/** helm and kubectl are quick; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 60_000;

/** kubectl's stderr without its warnings (e.g. about objects other suites created). */
function notWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('Warning:'));
}

const defaults = renderChart();

/** The first container of the named Deployment. */
function containerOf(objects: K8sObject[], deployment: string): ContainerSpec {
  return deploymentSpec(findObject(objects, 'Deployment', deployment)).template.spec.containers[0]!;
}

describe('helm lint', () => {
  test(
    'passes --strict with the default values and with every optional part on',
    () => {
      for (const values of [
        {},
        {
          gateway: { enabled: true, credentialsSecrets: ['openai'] },
          serviceMonitor: { enabled: true },
          adminToken: { existingSecret: 'token' },
        },
      ]) {
        const r = helm(['lint', '--strict', CHART_DIR, '-f', valuesFile(values)]);
        expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({
          code: 0,
          out: expect.stringContaining('0 chart(s) failed') as string,
        });
      }
    },
    CASE_TIMEOUT_MS,
  );
});

describe('RBAC', () => {
  const reference = referenceRBAC();

  test.each([...reference.keys()])(
    '%s has exactly the rules of manifests/rbac/controller.yaml',
    (key) => {
      const [kind, name] = key.split('/') as [string, string];
      const role = findObject(defaults, kind, name);
      if (kind === 'Role') expect(role.metadata.namespace).toBe('modelroute-system');
      expect(normalizeRules(role.rules as PolicyRule[])).toEqual(
        normalizeRules(reference.get(key)!),
      );
    },
  );

  test('the bindings give both roles to the ServiceAccount the controller runs as', () => {
    const sa = findObject(defaults, 'ServiceAccount', 'modelroute-controller');
    const controller = deploymentSpec(findObject(defaults, 'Deployment', 'modelroute-controller'));
    expect(controller.template.spec.serviceAccountName).toBe(sa.metadata.name);
    for (const [kind, roleKind, name] of [
      ['ClusterRoleBinding', 'ClusterRole', 'modelroute-controller'],
      ['RoleBinding', 'Role', 'modelroute-controller-leader-election'],
      ['RoleBinding', 'Role', 'modelroute-controller-webhook-cert'],
      ['RoleBinding', 'Role', 'modelroute-controller-credentials'],
      ['RoleBinding', 'Role', 'modelroute-controller-admin-token'],
      ['ClusterRoleBinding', 'ClusterRole', 'modelroute-controller-token-reviewer'],
    ] as const) {
      const binding = findObject(defaults, kind, name);
      expect(binding.roleRef).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: roleKind,
        name,
      });
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'modelroute-controller', namespace: 'modelroute-system' },
      ]);
    }
  });
});

describe('RBAC for backends owned once', () => {
  const grantsSecrets = (o: K8sObject) =>
    ((o.rules as PolicyRule[] | undefined) ?? []).some(
      (r) =>
        (r.apiGroups ?? []).includes('') &&
        (r.resources ?? []).some((res) => res === 'secrets' || res === '*'),
    );

  test('no ClusterRole grants anything on Secrets, whatever the values', () => {
    for (const objects of [
      defaults,
      renderChart({ gateway: { enabled: true }, platformNamespaces: ['platform', 'ml'] }),
    ]) {
      const clusterRoles = objects.filter((o) => o.kind === 'ClusterRole');
      expect(clusterRoles.length).toBeGreaterThan(0);
      expect(clusterRoles.filter(grantsSecrets).map((o) => o.metadata.name)).toEqual([]);
    }
  });

  test('the controller may get Secrets in each platform namespace through a Role there, and is told so', () => {
    const objects = renderChart({ platformNamespaces: ['platform', 'ml'] });
    const roles = objects.filter(
      (o) => o.kind === 'Role' && o.metadata.name === 'modelroute-controller-credentials',
    );
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['ml', 'platform']);
    for (const role of roles)
      expect(role.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]);
    const bindings = objects.filter(
      (o) => o.kind === 'RoleBinding' && o.metadata.name === 'modelroute-controller-credentials',
    );
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(['ml', 'platform']);
    for (const binding of bindings)
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'modelroute-controller', namespace: 'modelroute-system' },
      ]);
    const args = deploymentSpec(findObject(objects, 'Deployment', 'modelroute-controller')).template
      .spec.containers[0]!.args;
    expect(flag(args, 'credential-namespaces')).toBe('platform,ml');
    // By default: the release namespace only.
    const defaultArgs = deploymentSpec(findObject(defaults, 'Deployment', 'modelroute-controller'))
      .template.spec.containers[0]!.args;
    expect(flag(defaultArgs, 'credential-namespaces')).toBe('modelroute-system');
  });

  test('the controller and the gateway may create TokenReviews, and nothing else through that role', () => {
    const objects = renderChart({ gateway: { enabled: true } });
    const role = findObject(objects, 'ClusterRole', 'modelroute-controller-token-reviewer');
    expect(role.rules).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    ]);
    const binding = findObject(
      objects,
      'ClusterRoleBinding',
      'modelroute-controller-token-reviewer',
    );
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'modelroute-controller', namespace: 'modelroute-system' },
      { kind: 'ServiceAccount', name: 'modelroute-gateway', namespace: 'modelroute-system' },
    ]);
    findObject(objects, 'ServiceAccount', 'modelroute-gateway');
  });

  test('namespace admins manage tenants, keys and grants through the default roles; editors no tenants or grants; viewers no keys', () => {
    const rules = (name: string) =>
      (findObject(defaults, 'ClusterRole', name).rules as PolicyRule[]).flatMap((r) =>
        (r.resources ?? []).map(
          (res) => `${res}:${(r.verbs ?? []).includes('create') ? 'write' : 'read'}`,
        ),
      );
    const aggregates = (name: string) => findObject(defaults, 'ClusterRole', name).metadata.labels;
    expect(aggregates('modelroute-admin')).toMatchObject({
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
    });
    expect(rules('modelroute-admin')).toEqual(
      expect.arrayContaining([
        'modeltenants:write',
        'modelapikeys:write',
        'modelbackendgrants:write',
      ]),
    );
    expect(rules('modelroute-edit')).toEqual(
      expect.arrayContaining([
        'modelapikeys:write',
        'modeltenants:read',
        'modelbackendgrants:read',
      ]),
    );
    expect(rules('modelroute-view').some((r) => r.startsWith('modelapikeys'))).toBe(false);
    const off = renderChart({ identity: { aggregateToDefaultRoles: false } });
    expect(
      off.filter((o) => o.kind === 'ClusterRole' && /-(admin|edit|view)$/.test(o.metadata.name)),
    ).toEqual([]);
  });

  test('a platform namespace name that is not a namespace name is refused by the schema', () => {
    const r = helm([
      'template',
      'modelroute',
      CHART_DIR,
      '--namespace',
      'modelroute-system',
      '-f',
      valuesFile({ platformNamespaces: ['Not_A_Namespace'] }),
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('platformNamespaces');
  });
});

describe('CRDs', () => {
  test('are the repository crds/ unchanged, annotated to survive helm uninstall', () => {
    for (const source of repositoryCRDs()) {
      const rendered = findObject(defaults, 'CustomResourceDefinition', source.metadata.name);
      expect(isDeepStrictEqual(rendered.spec, source.spec)).toBe(true);
      expect(rendered.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
      expect(rendered.metadata.labels).toMatchObject({
        ...source.metadata.labels,
        'app.kubernetes.io/managed-by': 'Helm',
      });
    }
  });

  test('crds.install=false leaves them out; crds.keep=false lets uninstall delete them', () => {
    const without = renderChart({ crds: { install: false } });
    expect(without.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
    const notKept = renderChart({ crds: { keep: false } }).filter(
      (o) => o.kind === 'CustomResourceDefinition',
    );
    expect(notKept).toHaveLength(repositoryCRDs().length);
    for (const crd of notKept) expect(crd.metadata.annotations).toBeUndefined();
  });
});

describe('controller Deployment', () => {
  const deployment = deploymentSpec(findObject(defaults, 'Deployment', 'modelroute-controller'));
  const pod = deployment.template.spec;
  const container = pod.containers[0]!;

  test('runs 2 leader-elected replicas with the Lease in the release namespace and the pod name as identity', () => {
    expect(deployment.replicas).toBe(2);
    expect(container.args[0]).toBe('controller');
    expect(flag(container.args, 'lease-namespace')).toBe('modelroute-system');
    expect(flag(container.args, 'lease-name')).toBe('modelroute-controller');
    expect(flag(container.args, 'lease-duration')).toBe('15s');
    expect(flag(container.args, 'identity')).toBe('$(POD_NAME)');
    expect(flag(container.args, 'namespace')).toBeUndefined();
    expect(container.env).toContainEqual({
      name: 'POD_NAME',
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
  });

  test('probes /healthz and /readyz on the health port, which also serves /metrics', () => {
    const port = Number(flag(container.args, 'health-port'));
    expect(flag(container.args, 'health-host')).toBe('0.0.0.0');
    expect(container.ports).toContainEqual({
      name: 'metrics',
      containerPort: port,
      protocol: 'TCP',
    });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    const service = findObject(defaults, 'Service', 'modelroute-metrics');
    expect(service.spec).toMatchObject({
      ports: [{ name: 'metrics', port, targetPort: 'metrics' }],
      selector: deployment.template.metadata.labels,
    });
  });

  test('is locked down: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, resources set', () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.resources).toMatchObject({
      requests: { cpu: expect.any(String) as string, memory: expect.any(String) as string },
      limits: { memory: expect.any(String) as string },
    });
  });

  test('values reach the flags: watch namespace, log level, lease settings, replicas', () => {
    const custom = deploymentSpec(
      findObject(
        renderChart({
          controller: {
            replicas: 3,
            logLevel: 'debug',
            watchNamespace: 'apps',
            leaderElection: { leaseName: 'mr-lease', leaseDuration: '30s' },
          },
        }),
        'Deployment',
        'modelroute-controller',
      ),
    );
    const args = custom.template.spec.containers[0]!.args;
    expect(custom.replicas).toBe(3);
    expect([
      flag(args, 'namespace'),
      flag(args, 'log-level'),
      flag(args, 'lease-name'),
      flag(args, 'lease-duration'),
    ]).toEqual(['apps', 'debug', 'mr-lease', '30s']);
  });

  test('identity.unmatchedCallers reaches --unmatched-callers (default default-tenant)', () => {
    const argsOf = (values: object) =>
      deploymentSpec(findObject(renderChart(values), 'Deployment', 'modelroute-controller'))
        .template.spec.containers[0]!.args;
    expect(flag(argsOf({}), 'unmatched-callers')).toBe('default-tenant');
    expect(flag(argsOf({ identity: { unmatchedCallers: 'deny' } }), 'unmatched-callers')).toBe(
      'deny',
    );
  });
});

describe('sidecar-injection webhook', () => {
  const container = deploymentSpec(findObject(defaults, 'Deployment', 'modelroute-controller'))
    .template.spec.containers[0]!;

  test('a Service on 443 reaches the controller pods on the named webhook port 9443', () => {
    expect(container.ports).toContainEqual({
      name: 'webhook',
      containerPort: 9443,
      protocol: 'TCP',
    });
    const service = findObject(defaults, 'Service', 'modelroute-webhook');
    expect(service.spec).toMatchObject({
      ports: [{ name: 'webhook', port: 443, targetPort: 'webhook' }],
    });
    const controllerLabels = deploymentSpec(
      findObject(defaults, 'Deployment', 'modelroute-controller'),
    ).template.metadata.labels;
    expect(controllerLabels).toMatchObject((service.spec as { selector: object }).selector);
  });

  test('the MutatingWebhookConfiguration follows the contract: opt-in pods, CREATE, no side effects, Fail, 5 s, no caBundle', () => {
    const config = findObject(
      defaults,
      'MutatingWebhookConfiguration',
      'modelroute-sidecar-injector',
    );
    expect(config.webhooks).toEqual([
      {
        name: 'inject.modelroute.io',
        admissionReviewVersions: ['v1'],
        clientConfig: {
          service: {
            name: 'modelroute-webhook',
            namespace: 'modelroute-system',
            path: '/mutate-pods',
            port: 443,
          },
        },
        objectSelector: { matchLabels: { 'modelroute.io/inject': 'true' } },
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE'],
            resources: ['pods'],
            scope: 'Namespaced',
          },
        ],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        timeoutSeconds: 5,
      },
    ]);
  });

  test('the controller is told the webhook port, Service, cert Secret, configuration and sidecar image', () => {
    expect({
      port: flag(container.args, 'webhook-port'),
      service: flag(container.args, 'webhook-service'),
      secret: flag(container.args, 'webhook-secret'),
      config: flag(container.args, 'webhook-config-name'),
      image: flag(container.args, 'proxy-image'),
      mode: flag(container.args, 'sidecar-mode'),
    }).toEqual({
      port: '9443',
      service: 'modelroute-webhook',
      secret: 'modelroute-webhook-cert',
      config: 'modelroute-sidecar-injector',
      image: container.image,
      mode: 'native',
    });
  });

  test('webhook.enabled=false drops the Service, the configuration and the flags; other values reach them', () => {
    const off = renderChart({ webhook: { enabled: false } });
    expect(off.filter((o) => o.kind === 'MutatingWebhookConfiguration')).toEqual([]);
    expect(off.filter((o) => o.metadata.name === 'modelroute-webhook')).toEqual([]);
    const args = deploymentSpec(findObject(off, 'Deployment', 'modelroute-controller')).template
      .spec.containers[0]!.args;
    expect(args.filter((a) => /^--(webhook|proxy-image|sidecar-)/.test(a))).toEqual([]);

    const custom = renderChart({
      webhook: {
        failurePolicy: 'Ignore',
        configName: 'injector-b',
        proxyImage: 'registry.example/proxy:1',
        sidecarMode: 'container',
        namespaceSelector: { matchLabels: { team: 'ml' } },
      },
    });
    const config = findObject(custom, 'MutatingWebhookConfiguration', 'injector-b');
    expect((config.webhooks as object[])[0]).toMatchObject({
      failurePolicy: 'Ignore',
      namespaceSelector: { matchLabels: { team: 'ml' } },
    });
    const customArgs = deploymentSpec(findObject(custom, 'Deployment', 'modelroute-controller'))
      .template.spec.containers[0]!.args;
    expect(flag(customArgs, 'webhook-config-name')).toBe('injector-b');
    expect(flag(customArgs, 'proxy-image')).toBe('registry.example/proxy:1');
    expect(flag(customArgs, 'sidecar-mode')).toBe('container');
  });
});

describe('admin token', () => {
  test('by default the chart renders no token: the controller keeps it in <release>-admin-token, which the gateway reads', () => {
    const objects = renderChart({ gateway: { enabled: true } });
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const controller = containerOf(objects, 'modelroute-controller');
    expect(controller.args).toContain('--ensure-admin-token-secret');
    expect(flag(controller.args, 'admin-token-secret')).toBe('modelroute-admin-token');
    expect(flag(controller.args, 'admin-token-key')).toBe('token');
    expect(controller.env.map((e) => e.name)).not.toContain('MODELROUTE_ADMIN_TOKEN');
    expect(containerOf(objects, 'modelroute-gateway').env).toContainEqual({
      name: 'MODELROUTE_ADMIN_TOKEN',
      valueFrom: { secretKeyRef: { name: 'modelroute-admin-token', key: 'token' } },
    });
    // It may read that one Secret and create Secrets in the release namespace, nothing more.
    const role = findObject(objects, 'Role', 'modelroute-controller-admin-token');
    expect(role.metadata.namespace).toBe('modelroute-system');
    expect(role.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['modelroute-admin-token'],
        verbs: ['get'],
      },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
  });

  test('with adminToken.existingSecret the chart creates none, grants nothing on it, and every pod reads that Secret', () => {
    const objects = renderChart({
      adminToken: { existingSecret: 'my-token', key: 'value' },
      gateway: { enabled: true },
    });
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(objects.filter((o) => o.metadata.name.endsWith('-admin-token'))).toEqual([]);
    for (const name of ['modelroute-controller', 'modelroute-gateway']) {
      expect(containerOf(objects, name).env).toContainEqual({
        name: 'MODELROUTE_ADMIN_TOKEN',
        valueFrom: { secretKeyRef: { name: 'my-token', key: 'value' } },
      });
    }
    const args = containerOf(objects, 'modelroute-controller').args;
    expect(args).not.toContain('--ensure-admin-token-secret');
    // Sidecars injected without the credential channel reference the same Secret and key.
    expect([flag(args, 'admin-token-secret'), flag(args, 'admin-token-key')]).toEqual([
      'my-token',
      'value',
    ]);
  });
});

describe('exact-mode quota store (issue 14)', () => {
  const helmTemplateError = (values: object): string => {
    const r = helm([
      'template',
      'modelroute',
      CHART_DIR,
      '--kube-version',
      '1.31.0',
      '-f',
      valuesFile(values),
    ]);
    expect(r.code).not.toBe(0);
    return r.stderr;
  };
  const envOf = (objects: K8sObject[], name: string) =>
    deploymentSpec(findObject(objects, 'Deployment', name)).template.spec.containers[0]!.env;

  test('with quotas.store.existingSecret the gateway and the sidecars reference that Secret, never a literal', () => {
    const objects = renderChart({
      quotas: { store: { existingSecret: 'quota-store', existingSecretKey: 'redis-url' } },
      gateway: { enabled: true },
    });
    expect(envOf(objects, 'modelroute-gateway')).toContainEqual({
      name: 'MODELROUTE_QUOTA_STORE',
      valueFrom: { secretKeyRef: { name: 'quota-store', key: 'redis-url' } },
    });
    const controller = envOf(objects, 'modelroute-controller');
    expect(controller.map((e) => e.name)).not.toContain('MODELROUTE_SIDECAR_QUOTA_STORE');
    const args = deploymentSpec(findObject(objects, 'Deployment', 'modelroute-controller')).template
      .spec.containers[0]!.args;
    expect(flag(args, 'sidecar-quota-store-secret')).toBe('quota-store');
    expect(flag(args, 'sidecar-quota-store-key')).toBe('redis-url');
  });

  test('with quotas.store.url the chart keeps the URL in a Secret the gateway and the controller read', () => {
    const url = 'redis://:pw-in-url@redis.quota:6379/0';
    const objects = renderChart({ quotas: { store: { url } }, gateway: { enabled: true } });
    const secret = findObject(objects, 'Secret', 'modelroute-quota-store');
    expect(secret.stringData).toEqual({ url });
    const ref = { secretKeyRef: { name: 'modelroute-quota-store', key: 'url' } };
    expect(envOf(objects, 'modelroute-gateway')).toContainEqual({
      name: 'MODELROUTE_QUOTA_STORE',
      valueFrom: ref,
    });
    expect(envOf(objects, 'modelroute-controller')).toContainEqual({
      name: 'MODELROUTE_SIDECAR_QUOTA_STORE',
      valueFrom: ref,
    });
    const deployments = JSON.stringify(objects.filter((o) => o.kind === 'Deployment'));
    expect(deployments).not.toContain('pw-in-url');
  });

  test('no store by default; url and existingSecret together, or a URL that is not redis://, are refused', () => {
    expect(JSON.stringify(defaults)).not.toContain('QUOTA_STORE');
    const both = helmTemplateError({
      quotas: { store: { url: 'redis://r:6379', existingSecret: 'q' } },
    });
    expect(both).toContain('quotas.store: set url or existingSecret, not both');
    expect(helmTemplateError({ quotas: { store: { url: 'http://r:6379' } } })).toContain(
      '/quotas/store/url',
    );
  });
});

describe('gateway', () => {
  test('is off by default', () => {
    expect(defaults.filter((o) => o.metadata.name === 'modelroute-gateway')).toEqual([]);
  });

  test('when enabled, its pods are proxies the controller pushes to, behind a Service on the data port', () => {
    const objects = renderChart({
      gateway: { enabled: true, replicas: 3, credentialsSecrets: ['openai-key'] },
    });
    const gateway = deploymentSpec(findObject(objects, 'Deployment', 'modelroute-gateway'));
    const container = gateway.template.spec.containers[0]!;
    expect(gateway.replicas).toBe(3);
    expect(container.args[0]).toBe('proxy');
    expect(gateway.template.metadata.labels['modelroute.io/proxy']).toBe('true');
    expect(gateway.template.metadata.annotations?.['modelroute.io/admin-port']).toBe(
      flag(container.args, 'admin-port'),
    );
    expect(flag(container.args, 'host')).toBe('0.0.0.0');
    // Callers authenticate (virtual keys or ServiceAccount tokens, checked with TokenReview).
    expect(flag(container.args, 'identity')).toBe('gateway');
    expect(gateway.template.spec.serviceAccountName).toBe('modelroute-gateway');
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
    // Keys come from the mounted Secret as <secret>/<key> files.
    expect(flag(container.args, 'credentials-dir')).toBe('/etc/modelroute/credentials');
    expect(container.volumeMounts).toContainEqual({
      name: 'credentials-openai-key',
      mountPath: '/etc/modelroute/credentials/openai-key',
      readOnly: true,
    });
    const service = findObject(objects, 'Service', 'modelroute-gateway');
    expect(service.spec).toMatchObject({
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    });
    expect(gateway.template.metadata.labels).toMatchObject(
      (service.spec as { selector: object }).selector,
    );
    // The controller's pods must not look like proxies.
    const controller = deploymentSpec(findObject(objects, 'Deployment', 'modelroute-controller'));
    expect(controller.template.metadata.labels['modelroute.io/proxy']).toBeUndefined();
  });
});

describe('ServiceMonitor', () => {
  test('is off by default; when enabled it scrapes the metrics Service', () => {
    expect(defaults.filter((o) => o.kind === 'ServiceMonitor')).toEqual([]);
    const objects = renderChart({
      serviceMonitor: { enabled: true, labels: { release: 'prom' } },
    });
    const monitor = findObject(objects, 'ServiceMonitor', 'modelroute-controller');
    const service = findObject(objects, 'Service', 'modelroute-metrics');
    const spec = monitor.spec as {
      selector: { matchLabels: Record<string, string> };
      endpoints: { port: string; path: string }[];
    };
    expect(service.metadata.labels).toMatchObject(spec.selector.matchLabels);
    expect(spec.endpoints).toEqual([
      expect.objectContaining({ port: 'metrics', path: '/metrics' }),
    ]);
    expect(monitor.metadata.labels).toMatchObject({ release: 'prom' });
    // Only the metrics Service matches, not the webhook's.
    const webhook = findObject(objects, 'Service', 'modelroute-webhook');
    expect(webhook.metadata.labels).not.toMatchObject(spec.selector.matchLabels);
  });
});

describe('GitOps: helm template is deterministic', () => {
  /** `helm template` exactly as Argo CD or a CI diff runs it: no --kube-version, no cluster. */
  const template = (values: object): string => {
    const r = helm([
      'template',
      'modelroute',
      CHART_DIR,
      '-n',
      'modelroute-system',
      '-f',
      valuesFile(values),
    ]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    return r.stdout;
  };
  const everything = {
    gateway: { enabled: true, credentialsSecrets: ['openai'] },
    serviceMonitor: { enabled: true },
    quotas: { store: { url: 'redis://redis.quota:6379' } },
  };

  test.each([
    ['the defaults', {}],
    ['every optional part on', everything],
  ])(
    'with %s it works without --kube-version and renders the same bytes twice',
    (_what, values) => {
      const first = template(values);
      expect(template(values)).toBe(first);
      expect(
        parseObjects(first)
          .filter((o) => o.kind === 'Secret')
          .map((o) => o.metadata.name),
      ).toEqual('quotas' in values ? ['modelroute-quota-store'] : []);
    },
    CASE_TIMEOUT_MS,
  );

  test('no template draws randomness or reads the cluster, except the 0.1.0 token kept on upgrade', () => {
    const templates = readdirSync(join(CHART_DIR, 'templates'));
    // The template actions of a file, comments left out.
    const actions = (file: string) =>
      (readFileSync(join(CHART_DIR, 'templates', file), 'utf8').match(/\{\{[\s\S]*?\}\}/g) ?? [])
        .filter((a) => !/^\{\{-?\s*\/\*/.test(a))
        .join('\n');
    const uses = (fn: RegExp) => templates.filter((f) => fn.test(actions(f)));
    expect(uses(/\b(rand[A-Za-z]*|uuidv4|gen[A-Z][A-Za-z]*|now|date)\b/)).toEqual([]);
    expect(uses(/\blookup\b/)).toEqual(['admin-token-secret.yaml']);
  });
});

describe('locked-down clusters', () => {
  const gatewayOn = { gateway: { enabled: true } };
  const podOf = (objects: K8sObject[], name: string) =>
    deploymentSpec(findObject(objects, 'Deployment', name)).template.spec;

  test('OpenShift: runAsUser and runAsGroup set to null leave the UID to the platform, still non-root', () => {
    const objects = renderChart({
      ...gatewayOn,
      podSecurityContext: { runAsUser: null, runAsGroup: null },
    });
    for (const name of ['modelroute-controller', 'modelroute-gateway']) {
      expect(podOf(objects, name).securityContext).toEqual({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(containerOf(objects, name).securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
      });
    }
  });

  test('pod and container security contexts are values, passed through as given', () => {
    const objects = renderChart({
      ...gatewayOn,
      podSecurityContext: { runAsUser: 1001, fsGroup: 2000, seLinuxOptions: { level: 's0:c1,c2' } },
      securityContext: {
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'Localhost', localhostProfile: 'mr.json' },
      },
    });
    for (const name of ['modelroute-controller', 'modelroute-gateway']) {
      expect(podOf(objects, name).securityContext).toMatchObject({
        runAsUser: 1001,
        runAsGroup: 1000,
        fsGroup: 2000,
        seLinuxOptions: { level: 's0:c1,c2' },
      });
      expect(containerOf(objects, name).securityContext).toMatchObject({
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'Localhost', localhostProfile: 'mr.json' },
        readOnlyRootFilesystem: true,
      });
    }
  });

  test('affinity, tolerations and nodeSelector reach each Deployment’s pods', () => {
    const placement = (zone: string) => ({
      nodeSelector: { 'kubernetes.io/os': 'linux', pool: zone },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: zone, effect: 'NoSchedule' }],
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            {
              topologyKey: 'kubernetes.io/hostname',
              labelSelector: { matchLabels: { pool: zone } },
            },
          ],
        },
      },
    });
    const objects = renderChart({
      controller: placement('system'),
      gateway: { enabled: true, ...placement('edge') },
    });
    expect(podOf(objects, 'modelroute-controller')).toMatchObject(placement('system'));
    expect(podOf(objects, 'modelroute-gateway')).toMatchObject(placement('edge'));
    expect(podOf(defaults, 'modelroute-controller')).not.toHaveProperty('affinity');
  });

  test('extraArgs come last on the command line (the last value of a flag wins); extraEnv is added to the env', () => {
    const env = [
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=200' },
      { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
    ];
    const objects = renderChart({
      controller: { extraArgs: ['--log-level=debug'], extraEnv: env },
      gateway: { enabled: true, extraArgs: ['--max-body-bytes=1048576'], extraEnv: env },
    });
    const controller = containerOf(objects, 'modelroute-controller');
    expect(controller.args.at(-1)).toBe('--log-level=debug');
    expect(controller.env).toEqual(expect.arrayContaining(env));
    const gateway = containerOf(objects, 'modelroute-gateway');
    expect(gateway.args.at(-1)).toBe('--max-body-bytes=1048576');
    expect(gateway.env).toEqual(expect.arrayContaining(env));
  });

  test('image.digest pins every role to <repository>@<digest>, injected sidecars included; the tag still labels', () => {
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const objects = renderChart({
      image: { repository: 'registry.example/modelroute', tag: '0.2.0', digest },
      gateway: { enabled: true },
    });
    const ref = `registry.example/modelroute@${digest}`;
    const controller = containerOf(objects, 'modelroute-controller');
    expect(controller.image).toBe(ref);
    expect(flag(controller.args, 'proxy-image')).toBe(ref);
    expect(containerOf(objects, 'modelroute-gateway').image).toBe(ref);
    expect(
      findObject(objects, 'Deployment', 'modelroute-controller').metadata.labels,
    ).toMatchObject({
      'app.kubernetes.io/version': '0.2.0',
    });
    expect(containerOf(defaults, 'modelroute-controller').image).toMatch(/^modelroute:[0-9]/);
  });
});

describe('injected sidecar resources', () => {
  const resourceFlags = (values: object) =>
    containerOf(renderChart(values), 'modelroute-controller').args.filter(
      (a) => a.startsWith('--sidecar-') && /-(request|limit)=/.test(a),
    );

  test('default to requests 50m CPU and 96Mi memory, a 256Mi memory limit and no CPU limit', () => {
    expect(resourceFlags({})).toEqual([
      '--sidecar-cpu-request=50m',
      '--sidecar-memory-request=96Mi',
      '--sidecar-cpu-limit=',
      '--sidecar-memory-limit=256Mi',
    ]);
  });

  test('values reach the webhook; a memory limit set to null means none', () => {
    expect(
      resourceFlags({
        webhook: {
          sidecarResources: {
            requests: { cpu: '100m', memory: '128Mi' },
            limits: { cpu: '1', memory: null },
          },
        },
      }),
    ).toEqual([
      '--sidecar-cpu-request=100m',
      '--sidecar-memory-request=128Mi',
      '--sidecar-cpu-limit=1',
      '--sidecar-memory-limit=',
    ]);
  });
});

describe('rolling the controller and the gateway', () => {
  const objects = renderChart({ gateway: { enabled: true } });
  interface Rolling {
    strategy: unknown;
    template: {
      spec: {
        terminationGracePeriodSeconds: number;
        containers: { lifecycle?: { preStop: { exec: { command: string[] } } } }[];
      };
    };
  }
  const rolling = (name: string) => findObject(objects, 'Deployment', name).spec as Rolling;
  const preStopMs = (name: string) => {
    const command = rolling(name).template.spec.containers[0]!.lifecycle?.preStop.exec.command;
    expect(command?.slice(0, 2)).toEqual(['node', '-e']);
    return Number(/setTimeout\(\(\) => \{\}, (\d+)\)/.exec(command![2]!)?.[1]);
  };

  test('one new pod at a time, and none stops before its replacement is Ready', () => {
    for (const name of ['modelroute-controller', 'modelroute-gateway'])
      expect(rolling(name).strategy).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
      });
    // Ready only with a table pushed (gateway), with caches synced (controller).
    expect(containerOf(objects, 'modelroute-gateway').readinessProbe.httpGet.path).toBe('/readyz');
    expect(containerOf(objects, 'modelroute-controller').readinessProbe.httpGet.path).toBe(
      '/readyz',
    );
  });

  test('a stopping gateway keeps serving 15 s while the Service drops it, within a 45 s grace period; the controller 5 s of 30 s', () => {
    expect(preStopMs('modelroute-gateway')).toBe(15_000);
    expect(rolling('modelroute-gateway').template.spec.terminationGracePeriodSeconds).toBe(45);
    expect(preStopMs('modelroute-controller')).toBe(5_000);
    expect(rolling('modelroute-controller').template.spec.terminationGracePeriodSeconds).toBe(30);
  });

  test('the delays are values; 0 drops the hook; a grace period no longer than the delay is refused', () => {
    const custom = renderChart({
      controller: { preStopDelaySeconds: 0 },
      gateway: { enabled: true, preStopDelaySeconds: 60, terminationGracePeriodSeconds: 120 },
    });
    const spec = (name: string) =>
      (findObject(custom, 'Deployment', name).spec as Rolling).template.spec;
    expect(spec('modelroute-controller').containers[0]!.lifecycle).toBeUndefined();
    expect(spec('modelroute-gateway').terminationGracePeriodSeconds).toBe(120);
    expect(() => renderChart({ gateway: { enabled: true, preStopDelaySeconds: 50 } })).toThrow(
      'gateway.terminationGracePeriodSeconds (45) must be longer than gateway.preStopDelaySeconds (50)',
    );
  });
});

describe('values schema', () => {
  const cases: [string, object, RegExp][] = [
    ['an unknown top-level key', { replicas: 2 }, /additional propert.*'replicas'/],
    ['an unknown nested key', { controller: { replica: 3 } }, /\/controller.*'replica'/],
    ['a misspelt deep key', { gateway: { service: { tipe: 'x' } } }, /\/gateway\/service.*'tipe'/],
    ['a wrong type', { controller: { replicas: 'two' } }, /\/controller\/replicas.*want integer/],
    ['a bad enum', { webhook: { failurePolicy: 'Sometimes' } }, /\/webhook\/failurePolicy.*'Fail'/],
    ['a bad log level', { gateway: { logLevel: 'verbose' } }, /\/gateway\/logLevel/],
    [
      'a bad sidecar mode',
      { webhook: { sidecarMode: 'sidecar' } },
      /\/webhook\/sidecarMode.*'native'/,
    ],
    [
      'a bad duration',
      { controller: { leaderElection: { leaseDuration: '15' } } },
      /\/controller\/leaderElection\/leaseDuration/,
    ],
    ['a digest that is not sha256', { image: { digest: 'latest' } }, /\/image\/digest/],
    [
      'an extraEnv value that is not a string',
      { controller: { extraEnv: [{ name: 'N', value: 5 }] } },
      /\/controller\/extraEnv\/0\/value.*want string/,
    ],
    [
      'an extraEnv entry without a name',
      { gateway: { extraEnv: [{ value: 'x' }] } },
      /\/gateway\/extraEnv\/0.*name/,
    ],
    [
      'extraArgs that are not strings',
      { controller: { extraArgs: [{ log: 1 }] } },
      /\/controller\/extraArgs\/0/,
    ],
    [
      'a sidecar memory request that is not a quantity',
      { webhook: { sidecarResources: { requests: { memory: 'lots' } } } },
      /\/webhook\/sidecarResources\/requests\/memory/,
    ],
    [
      'a runAsUser that is not a number',
      { podSecurityContext: { runAsUser: 'nobody' } },
      /\/podSecurityContext\/runAsUser.*want integer/,
    ],
    [
      'a misspelt security context key',
      { securityContext: { readOnlyRootFileSystem: true } },
      /\/securityContext.*'readOnlyRootFileSystem'/,
    ],
    [
      'an unknown affinity kind',
      { gateway: { affinity: { nodeAffinty: {} } } },
      /\/gateway\/affinity.*'nodeAffinty'/,
    ],
  ];
  test.each(cases)(
    'rejects %s with a message naming it',
    (_what, values, message) => {
      const r = helm(['template', 'modelroute', CHART_DIR, '-f', valuesFile(values)]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/don't meet the specifications of the schema/);
      expect(r.stderr).toMatch(message);
    },
    CASE_TIMEOUT_MS,
  );

  test('documents every value with a description', () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as {
      properties: Record<string, unknown>;
    };
    const undocumented: string[] = [];
    const open: string[] = [];
    const walk = (node: Record<string, unknown>, path: string): void => {
      if (path && typeof node.description !== 'string') undocumented.push(path);
      const props = node.properties as Record<string, Record<string, unknown>> | undefined;
      if (props) {
        if (node.additionalProperties !== false) open.push(path || '(root)');
        for (const [key, child] of Object.entries(props)) walk(child, `${path}.${key}`);
      }
      const items = node.items as Record<string, unknown> | undefined;
      if (items?.properties) walk({ ...items, description: 'item' }, `${path}[]`);
    };
    walk(schema, '');
    expect(undocumented).toEqual([]);
    expect(open).toEqual([]);
  });
});

/**
 * Just enough of a Kubernetes 1.28 API server for Helm to learn the version
 * and the served API groups (discovery) and to find no release in it.
 */
async function startOldApiServer(): Promise<{ kubeconfig: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const body: Record<string, object> = {
      '/version': { major: '1', minor: '28', gitVersion: 'v1.28.15' },
      '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
      '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [] },
      '/api/v1': { kind: 'APIResourceList', groupVersion: 'v1', resources: [] },
    };
    const found =
      body[path] ??
      (path.endsWith('/secrets') ? { kind: 'SecretList', apiVersion: 'v1', items: [] } : undefined);
    res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(found ?? { kind: 'Status', apiVersion: 'v1', code: 404 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kubeconfig = valuesFile({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'old', cluster: { server: `http://127.0.0.1:${port}` } }],
    users: [{ name: 'u', user: { token: 'unused' } }],
    contexts: [{ name: 'old', context: { cluster: 'old', user: 'u' } }],
    'current-context': 'old',
  });
  return {
    kubeconfig,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** helm without blocking the event loop (the API server it talks to may be this process). */
function helmAsync(
  args: string[],
  kubeconfig: string,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(testenv.helm, args, { env: { ...process.env, KUBECONFIG: kubeconfig } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('the minimum Kubernetes version (1.29)', () => {
  test(
    'helm install refuses a 1.28 cluster, naming its version; the real API server passes',
    async () => {
      const old = await startOldApiServer();
      try {
        const r = await helmAsync(
          ['install', 'modelroute', CHART_DIR, '-n', 'modelroute-system', '--dry-run=server'],
          old.kubeconfig,
        );
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(
          'modelroute needs Kubernetes 1.29 or later (native sidecars, CEL validation in its CRDs); this cluster is v1.28.15',
        );
      } finally {
        await old.close();
      }
      // Named apart from what other suites keep on this shared server (--validate checks ownership).
      const apart = valuesFile({
        crds: { install: false },
        webhook: { configName: 'modelroute-sidecar-injector-version-check' },
      });
      const current = helm([
        'template',
        'version-check',
        CHART_DIR,
        '-n',
        'default',
        '--validate',
        '-f',
        apart,
      ]);
      expect({ code: current.code, stderr: current.stderr }).toEqual({ code: 0, stderr: '' });
    },
    CASE_TIMEOUT_MS,
  );
});

describe('on the real API server', () => {
  test(
    'the rendered chart, defaults and every optional part on, passes kubectl apply --dry-run=server',
    () => {
      for (const values of [{}, { gateway: { enabled: true }, crds: { install: false } }]) {
        const objects = renderChart(values, { namespace: 'default' });
        const yamlText = objects.map((o) => JSON.stringify(o)).join('\n---\n');
        const r = kubectl(['apply', '--dry-run=server', '-n', 'default', '-f', '-'], yamlText);
        expect({ code: r.code, errors: notWarnings(r.stderr) }).toEqual({ code: 0, errors: [] });
        expect(r.stdout).toMatch(/deployment.apps\/modelroute-controller (created|configured)/);
      }
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'manifests/install.yaml passes kubectl apply --server-side --dry-run=server and holds no token (the controller makes it)',
    () => {
      // Server-side dry run does not create the namespace the file declares.
      if (kubectl(['get', 'namespace', 'modelroute-system']).code !== 0)
        mustKubectl(['create', 'namespace', 'modelroute-system']);
      const file = join(REPO_ROOT, 'manifests', 'install.yaml');
      // Other suites (and helm releases) on this shared server own the CRDs' fields.
      const r = kubectl([
        'apply',
        '--server-side',
        '--force-conflicts',
        '--dry-run=server',
        '-f',
        file,
      ]);
      expect({ code: r.code, errors: notWarnings(r.stderr) }).toEqual({ code: 0, errors: [] });
      const objects = parseObjects(readFileSync(file, 'utf8'));
      expect(objects.filter((o: K8sObject) => o.kind === 'Secret')).toEqual([]);
      expect(findObject(objects, 'Namespace', 'modelroute-system')).toBeDefined();
      const controller = containerOf(objects, 'modelroute-controller');
      expect(controller.args).toContain('--ensure-admin-token-secret');
      findObject(objects, 'Role', 'modelroute-controller-admin-token');
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'manifests/install.yaml and the chart copy of the CRDs are up to date (hack/render-install.ts --check)',
    () => {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', join(REPO_ROOT, 'hack', 'render-install.ts'), '--check'],
        {
          cwd: REPO_ROOT,
          encoding: 'utf8',
          env: { ...process.env, MODELROUTE_HELM: process.env.MODELROUTE_TEST_HELM },
        },
      );
      expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    },
    CASE_TIMEOUT_MS,
  );
});
