// Sidecar injection on the real API server: the controller, running as its
// ServiceAccount with exactly manifests/rbac/controller.yaml, issues its
// serving certificate into a Secret, writes the CA into the webhook
// configuration's caBundle, and pods created through kubectl come back with
// (or, unlabelled, without) the proxy sidecar.
import { startController, type RunningController } from '../../src/controller/controller.js';
import { DEFAULT_SIDECAR_CONFIG } from '../../src/webhook/sidecar-patch.js';
import {
  controllerServiceAccountKubeconfig,
  grantControllerSecrets,
  createNamespace,
  installCRDs,
  kubectl,
  kubectlAsync as kubectlInBackground,
  mustKubectl,
  type CommandResult,
} from '../support/cluster.js';
import { ClusterHandle, quietLogger } from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../testenv/controlplane.js';

/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 120_000;
// The names manifests/rbac/controller.yaml grants (resourceNames).
const CONFIG_NAME = 'modelroute-sidecar-injector';
const SECRET_NAME = 'modelroute-webhook-cert';
const CONTROLLER_NS = 'modelroute-system';
const SERVICE_NAME = 'modelroute-webhook';
const IMAGE = 'registry.example/modelroute:test';

let namespace: string;
let cluster: ClusterHandle;
let controller: RunningController | undefined;

interface ContainerJson {
  name: string;
  image: string;
  restartPolicy?: string;
  args?: string[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  env?: unknown[];
}

interface PodJson {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    containers: ContainerJson[];
    initContainers?: ContainerJson[];
    volumes?: { name: string; secret?: { secretName: string; items?: unknown[] } }[];
  };
}

/**
 * The webhook server runs in this process: the synchronous helpers would stop
 * it from answering the API server's call.
 */
function kubectlAsync(args: string[], input: string): Promise<CommandResult> {
  return kubectlInBackground([...args, '-n', namespace], input);
}

function podManifest(
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels, annotations },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  });
}

/** The CA in the controller's certificate Secret, as PEM. */
function secretCa(): string {
  const secret = JSON.parse(
    mustKubectl(['get', 'secret', SECRET_NAME, '-n', CONTROLLER_NS, '-o', 'json']),
  ) as { data: Record<string, string> };
  return Buffer.from(secret.data['ca.crt'] ?? '', 'base64').toString('utf8');
}

function caBundles(): (string | undefined)[] {
  const config = JSON.parse(
    mustKubectl(['get', 'mutatingwebhookconfiguration', CONFIG_NAME, '-o', 'json']),
  ) as { webhooks: { clientConfig: { caBundle?: string } }[] };
  return config.webhooks.map((w) => w.clientConfig.caBundle);
}

beforeAll(async () => {
  installCRDs();
  // Also creates modelroute-system and applies the RBAC under test.
  const kubeconfig = controllerServiceAccountKubeconfig();
  namespace = createNamespace('webhook');
  cluster = new ClusterHandle(namespace);
  // The missing-Secret warnings need to look Secrets up: where the controller may not
  // (no platformNamespaces Role), admission goes on without them.
  grantControllerSecrets(namespace);
  // Start from nothing: the controller must create the Secret and fill the caBundle itself.
  mustKubectl(['delete', 'mutatingwebhookconfiguration', CONFIG_NAME, '--ignore-not-found']);
  mustKubectl(['delete', 'secret', SECRET_NAME, '-n', CONTROLLER_NS, '--ignore-not-found']);

  const port = await freePort();
  // The API server runs on this machine: a URL clientConfig reaches the controller on loopback.
  mustKubectl(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: CONFIG_NAME },
      webhooks: [
        {
          name: 'inject.modelroute.io',
          admissionReviewVersions: ['v1'],
          clientConfig: { url: `https://127.0.0.1:${port}/mutate-pods` },
          objectSelector: { matchLabels: { 'modelroute.io/inject': 'true' } },
          // Only this suite's namespace: no other suite's pods ever meet this webhook.
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
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
          timeoutSeconds: 10,
        },
      ],
    }),
  );

  cluster.apply([
    // Used by a route that selects every proxy: its Secret must be mounted.
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackend',
      metadata: { name: 'openai' },
      spec: {
        provider: 'openai-compatible',
        // Nothing listens there: probes fail fast, and injection does not care.
        endpoint: 'http://127.0.0.1:9/v1',
        model: 'gpt-4o-mini',
        secretRef: { name: 'openai-key', key: 'api-key' },
      },
    },
    // Used only by a route for other proxies: its Secret must not be mounted.
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackend',
      metadata: { name: 'batch' },
      spec: {
        provider: 'openai-compatible',
        endpoint: 'http://127.0.0.1:9/v1',
        model: 'gpt-4o',
        secretRef: { name: 'batch-key', key: 'api-key' },
      },
    },
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'chat' },
      spec: { model: 'chat', rules: [{ name: 'main', backendRefs: [{ name: 'openai' }] }] },
    },
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'batch' },
      spec: {
        model: 'batch',
        proxySelector: { matchLabels: { app: 'batch-worker' } },
        rules: [{ name: 'main', backendRefs: [{ name: 'batch' }] }],
      },
    },
  ]);
  cluster.must([
    'create',
    'secret',
    'generic',
    'openai-key',
    '-n',
    namespace,
    '--from-literal=api-key=sk-test-not-a-real-key',
  ]);

  controller = await startController({
    kubeconfigPath: kubeconfig,
    namespace,
    adminToken: 'webhook-test-admin-token-0123456789',
    identity: 'webhook-test',
    leaseNamespace: CONTROLLER_NS,
    leaseName: `modelroute-controller-${namespace}`,
    logger: quietLogger(),
    webhook: {
      host: '127.0.0.1',
      port,
      serviceName: SERVICE_NAME,
      namespace: CONTROLLER_NS,
      secretName: SECRET_NAME,
      configName: CONFIG_NAME,
      extraSans: ['127.0.0.1'],
      sidecar: { ...DEFAULT_SIDECAR_CONFIG, image: IMAGE },
      retryIntervalMs: 500,
    },
  });
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  // Nothing else may meet a webhook whose server is gone.
  kubectl(['delete', 'mutatingwebhookconfiguration', CONFIG_NAME, '--ignore-not-found']);
});

test(
  'the controller creates its certificate Secret and fills in the caBundle with its CA',
  async () => {
    await eventually(() => expect(caBundles()[0]).toBeTruthy(), 30_000);
    const secret = JSON.parse(
      mustKubectl(['get', 'secret', SECRET_NAME, '-n', CONTROLLER_NS, '-o', 'json']),
    ) as { type: string; data: Record<string, string> };
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(caBundles()).toEqual([secret.data['ca.crt']]);
  },
  CASE_TIMEOUT_MS,
);

test(
  'a Pod created with modelroute.io/inject=true comes back with the sidecar, the proxy label and its credentials volumes',
  async () => {
    await eventually(() => expect(caBundles()[0]).toBeTruthy(), 30_000);
    // The API server may still hold a connection from before the certificate: retry briefly.
    let created: CommandResult | undefined;
    await eventually(async () => {
      created = await kubectlAsync(
        ['create', '-f', '-', '-o', 'json'],
        podManifest('chat-app', { 'modelroute.io/inject': 'true', app: 'chat' }),
      );
      expect(created.stderr).not.toMatch(/failed calling webhook/);
    }, 30_000);
    expect(created!.code).toBe(0);
    const pod = JSON.parse(created!.stdout) as PodJson;
    expect(pod.metadata.labels).toEqual({
      'modelroute.io/inject': 'true',
      app: 'chat',
      'modelroute.io/proxy': 'true',
    });
    // Its admin token comes over the credential channel: no Secret, and the controller knows.
    expect(pod.metadata.annotations).toMatchObject({
      'modelroute.io/admin-port': '9901',
      'modelroute.io/admin-token': 'delivered',
    });
    // A native sidecar: a restartable init container, as the API server stored it.
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['app']);
    expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(['modelroute-proxy']);
    const sidecar = pod.spec.initContainers![0]!;
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.image).toBe(IMAGE);
    expect(sidecar.args).toEqual(
      expect.arrayContaining(['proxy', '--admin-port=9901', '--admin-host=0.0.0.0']),
    );
    expect(sidecar.env).toEqual([
      {
        name: 'POD_NAMESPACE',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
      },
      // The one key it mounts may go only to the backend that uses it.
      {
        name: 'MODELROUTE_CREDENTIAL_ORIGINS',
        value: expect.stringMatching(/^\{"openai-key\/api-key":\["https?:\/\/[^"]+"\]\}$/),
      },
      {
        name: 'POD_NAME',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
      },
      // Who calls through this sidecar: the pod as admitted.
      {
        name: 'MODELROUTE_WORKLOAD',
        value: JSON.stringify({
          namespace,
          serviceAccount: 'default',
          labels: { app: 'chat', 'modelroute.io/inject': 'true', 'modelroute.io/proxy': 'true' },
        }),
      },
      // The CA the controller serves with: the proxy verifies the credential endpoint with it.
      { name: 'MODELROUTE_CREDENTIALS_CA', value: secretCa() },
    ]);
    expect(sidecar.args).toEqual(
      expect.arrayContaining([
        '--identity=sidecar',
        `--credentials-url=https://${SERVICE_NAME}.${CONTROLLER_NS}.svc:443/v1/credentials`,
        '--credentials-token-file=/var/run/secrets/modelroute/token',
      ]),
    );
    // A token bound to this pod, for the controller's audience only; never another namespace's Secret.
    const token = pod.spec.volumes?.find((v) => v.name === 'modelroute-token') as
      { projected?: { sources: { serviceAccountToken?: { audience?: string } }[] } } | undefined;
    expect(token?.projected?.sources[0]?.serviceAccountToken?.audience).toBe(
      'modelroute-controller',
    );
    // The route "chat" selects this pod: openai-key is mounted; "batch" does not: batch-key is not.
    const secretVolumes = (pod.spec.volumes ?? []).filter((v) => v.secret);
    expect(secretVolumes).toEqual([
      expect.objectContaining({
        name: 'modelroute-cred-openai-key',
        secret: expect.objectContaining({
          secretName: 'openai-key',
          items: [{ key: 'api-key', path: 'api-key' }],
        }) as unknown,
      }),
    ]);
    expect(sidecar.volumeMounts).toEqual(
      expect.arrayContaining([
        {
          name: 'modelroute-cred-openai-key',
          mountPath: '/var/run/modelroute/credentials/openai-key',
          readOnly: true,
        },
      ]),
    );
    // No admin-token Secret in this namespace, and none needed: no warning about it.
    expect(created!.stderr).not.toMatch(/modelroute-admin-token/);
    expect(JSON.stringify(pod)).not.toContain('modelroute-admin-token');
    // What the API server stored is what it returned.
    const stored = cluster.json<PodJson>(['get', 'pod', 'chat-app']);
    expect(stored.spec.initContainers?.map((c) => c.name)).toEqual(['modelroute-proxy']);
  },
  CASE_TIMEOUT_MS,
);

test(
  'a Pod without the label is untouched',
  async () => {
    await eventually(() => expect(caBundles()[0]).toBeTruthy(), 30_000);
    const created = await kubectlAsync(
      ['create', '-f', '-', '-o', 'json'],
      podManifest('plain-app', { app: 'plain' }),
    );
    expect(created.stderr).toBe('');
    const pod = JSON.parse(created.stdout) as PodJson;
    expect(pod.metadata.labels).toEqual({ app: 'plain' });
    expect(pod.metadata.annotations ?? {}).toEqual({});
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['app']);
    expect(pod.spec.volumes ?? []).toEqual([]);
  },
  CASE_TIMEOUT_MS,
);

test(
  'a labelled Pod with a bad sidecar annotation is refused with a message naming it',
  async () => {
    await eventually(() => expect(caBundles()[0]).toBeTruthy(), 30_000);
    let refused: CommandResult | undefined;
    await eventually(async () => {
      refused = await kubectlAsync(
        ['create', '-f', '-'],
        podManifest(
          'bad-app',
          { 'modelroute.io/inject': 'true' },
          { 'modelroute.io/proxy-port': 'eighty' },
        ),
      );
      expect(refused.stderr).not.toMatch(/failed calling webhook/);
    }, 30_000);
    expect(refused!.code).not.toBe(0);
    expect(refused!.stderr).toContain('modelroute sidecar injection');
    expect(refused!.stderr).toContain('modelroute.io/proxy-port: "eighty" is not a port');
    expect(cluster.kubectl(['get', 'pod', 'bad-app']).code).not.toBe(0);
  },
  CASE_TIMEOUT_MS,
);
