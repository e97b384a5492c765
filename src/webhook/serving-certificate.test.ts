import { X509Certificate } from 'node:crypto';
import type { TlsSecret } from '../k8s/kinds.js';
import { KubeApiError, type ResourceKind } from '../k8s/types.js';
import { createLogger } from '../telemetry/logger.js';
import {
  certificatesFromSecret,
  ServingCertificateStore,
  type SecretClient,
} from './serving-certificate.js';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const REF = { namespace: 'modelroute-system', name: 'modelroute-webhook-cert' };
const identity = { dnsNames: ['modelroute-webhook.modelroute-system.svc'], ipAddresses: [] };

/** One Secret in memory, with resourceVersion checks like the API server's. */
class SecretDouble implements SecretClient {
  secret: TlsSecret | undefined;
  writes: string[] = [];
  private version = 0;
  /** Runs once before the next create or replace: another replica getting there first. */
  interleave: (() => Promise<void>) | undefined;

  get<T>(_kind: ResourceKind<T>): Promise<T | undefined> {
    return Promise.resolve(structuredClone(this.secret) as T | undefined);
  }

  async create<T>(_kind: ResourceKind<T>, object: T): Promise<T> {
    await this.runInterleave();
    if (this.secret) throw new KubeApiError('secrets "x" already exists', 409, 'AlreadyExists');
    return this.store(object as TlsSecret, 'create') as T;
  }

  async replace<T>(_kind: ResourceKind<T>, object: T): Promise<T> {
    await this.runInterleave();
    const o = object as TlsSecret;
    if (o.metadata.resourceVersion !== this.secret?.metadata.resourceVersion)
      throw new KubeApiError('the object has been modified', 409, 'Conflict');
    return this.store(o, 'replace') as T;
  }

  private async runInterleave(): Promise<void> {
    const other = this.interleave;
    this.interleave = undefined;
    await other?.();
  }

  private store(o: TlsSecret, how: string): TlsSecret {
    this.version += 1;
    this.writes.push(how);
    this.secret = structuredClone({
      ...o,
      metadata: { ...o.metadata, resourceVersion: String(this.version) },
    });
    return structuredClone(this.secret);
  }
}

const quiet = () => createLogger({ level: 'error', write: () => {} });

function replica(client: SecretClient, clock: { now: number }) {
  return new ServingCertificateStore({
    client,
    secret: REF,
    identity,
    logger: quiet(),
    now: () => clock.now,
  });
}

test('creates the kubernetes.io/tls Secret with ca.crt and ca.key on first start, then reuses it', async () => {
  const api = new SecretDouble();
  const clock = { now: T0 };
  const first = await replica(api, clock).current();
  expect(api.writes).toEqual(['create']);
  expect(api.secret?.type).toBe('kubernetes.io/tls');
  expect(Object.keys(api.secret?.data ?? {}).sort()).toEqual([
    'ca.crt',
    'ca.key',
    'tls.crt',
    'tls.key',
  ]);
  expect(certificatesFromSecret(api.secret)).toEqual(first);
  const again = await replica(api, clock).current();
  expect(again).toEqual(first);
  expect(api.writes).toEqual(['create']);
}, 30_000);

test('two replicas creating the Secret at once: the loser gets 409, re-reads and serves the winner', async () => {
  const api = new SecretDouble();
  const clock = { now: T0 };
  let winner: unknown;
  api.interleave = async () => {
    winner = await replica(api, clock).current();
  };
  const loser = await replica(api, clock).current();
  expect(api.writes).toEqual(['create']);
  expect(loser).toEqual(winner);
}, 30_000);

test('rotates the serving certificate when 30 days are left, keeping the CA', async () => {
  const api = new SecretDouble();
  const clock = { now: T0 };
  const first = await replica(api, clock).current();
  clock.now = T0 + 61 * DAY;
  const rotated = await replica(api, clock).current();
  expect(api.writes).toEqual(['create', 'replace']);
  expect(rotated.caCert).toBe(first.caCert);
  expect(rotated.cert).not.toBe(first.cert);
  expect(Date.parse(new X509Certificate(rotated.cert).validTo)).toBe(clock.now + 90 * DAY);
}, 30_000);

test('two replicas rotating at once: the stale update gets 409 and the other rotation is used', async () => {
  const api = new SecretDouble();
  const clock = { now: T0 };
  await replica(api, clock).current();
  clock.now = T0 + 61 * DAY;
  let winner: unknown;
  api.interleave = async () => {
    winner = await replica(api, clock).current();
  };
  const loser = await replica(api, clock).current();
  expect(api.writes).toEqual(['create', 'replace']);
  expect(loser).toEqual(winner);
}, 30_000);

test.each([
  ['tls.crt is garbage', { 'tls.crt': Buffer.from('garbage').toString('base64') }],
  ['ca.key is missing', { 'ca.key': undefined }],
])(
  'a corrupt Secret (%s) is replaced by a new CA and certificate',
  async (_what, damage) => {
    const api = new SecretDouble();
    const clock = { now: T0 };
    const first = await replica(api, clock).current();
    const data = { ...(api.secret?.data ?? {}), ...damage };
    api.secret = {
      ...api.secret!,
      data: Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >,
    };
    const repaired = await replica(api, clock).current();
    expect(api.writes).toEqual(['create', 'replace']);
    expect(repaired.caCert).not.toBe(first.caCert);
    expect(certificatesFromSecret(api.secret)).toEqual(repaired);
  },
  30_000,
);

test('other errors (e.g. 403 Forbidden) are not retried as conflicts', async () => {
  const api = new SecretDouble();
  api.create = () => Promise.reject(new KubeApiError('secrets is forbidden', 403, 'Forbidden'));
  await expect(replica(api, { now: T0 }).current()).rejects.toThrow(/forbidden/);
}, 30_000);
