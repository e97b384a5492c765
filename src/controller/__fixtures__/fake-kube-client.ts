// An in-memory API server behind the KubeClient interface, for unit tests:
// resourceVersions, watch replay from a resourceVersion, 410 after compaction,
// injected errors and outages.
import {
  KubeApiError,
  type EventInput,
  type KubeClient,
  type ListResult,
  type ObjectMetaLike,
  type ObjectRef,
  type ResourceKind,
  type WatchEventType,
  type WatchHandle,
  type WatchHandlers,
} from '../../k8s/types.js';

type Method =
  | 'list'
  | 'watch'
  | 'get'
  | 'exists'
  | 'create'
  | 'replace'
  | 'patchStatus'
  | 'createEvent'
  | 'repeatEvent';

interface Stored extends ObjectMetaLike {
  [field: string]: unknown;
}

interface HistoryEntry {
  rv: number;
  kindId: string;
  type: WatchEventType;
  object: Stored;
}

interface Watcher {
  kindId: string;
  namespace: string | undefined;
  labelSelector: string | undefined;
  handlers: WatchHandlers<unknown>;
  open: boolean;
}

export interface RecordedCall {
  method: Method;
  kind: string;
  options?: { namespace?: string; labelSelector?: string; resourceVersion?: string };
}

/** A transport failure: what the client raises when the API server cannot be reached. */
export function connectionRefused(): KubeApiError {
  return new KubeApiError('connect ECONNREFUSED 127.0.0.1:6443');
}

const kindId = (kind: ResourceKind<unknown>): string =>
  `${kind.group}/${kind.version}/${kind.plural}`;

const clone = <T>(value: T): T => structuredClone(value);

export class FakeKubeClient implements KubeClient {
  /** Every call in order, for asserting what the code under test asked for. */
  readonly calls: RecordedCall[] = [];
  /** Every Event created, with its name and how often it was counted (1 + repeats). */
  readonly events: (EventInput & { name: string; count: number })[] = [];

  private revision = 100;
  /** Watches from a resourceVersion below this get 410 Gone. */
  private compactedBelow = 0;
  private readonly stores = new Map<string, Map<string, Stored>>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly injected: Array<{ method: Method; err: Error; times: number }> = [];
  private down = false;

  // --- test controls -------------------------------------------------------

  /** Creates or overwrites an object as another actor would, emitting a watch event. */
  put<T>(kind: ResourceKind<T>, object: T): T {
    const obj = clone(object) as unknown as Stored;
    const store = this.store(kind);
    const existed = store.has(this.key(obj));
    return this.write(kind, obj, existed ? 'MODIFIED' : 'ADDED') as unknown as T;
  }

  /** Deletes an object as another actor would; false when it did not exist. */
  remove(kind: ResourceKind<unknown>, ref: ObjectRef | { name: string }): boolean {
    const store = this.store(kind);
    const key = this.refKey(ref);
    const obj = store.get(key);
    if (!obj) return false;
    store.delete(key);
    obj.metadata.resourceVersion = String(++this.revision);
    this.record(kindId(kind), 'DELETED', obj);
    return true;
  }

  /** The stored object, without going through the client (no call recorded). */
  peek<T>(kind: ResourceKind<T>, ref: ObjectRef | { name: string }): T | undefined {
    const obj = this.store(kind).get(this.refKey(ref));
    return obj ? (clone(obj) as unknown as T) : undefined;
  }

  /** The next `times` calls of `method` fail with `err`. */
  failNext(method: Method, err: Error, times = 1): void {
    this.injected.push({ method, err, times });
  }

  /** Sends a BOOKMARK carrying the current resourceVersion to every open watch of the kind. */
  bookmark(kind: ResourceKind<unknown>): string {
    const rv = String(this.revision);
    const object = { metadata: { name: '', resourceVersion: rv } } as Stored;
    for (const w of this.watchersOf(kind)) this.deliver(w, 'BOOKMARK', object);
    return rv;
  }

  /** Sends an arbitrary event to every open watch of the kind (e.g. one the client failed to validate). */
  emitRaw(kind: ResourceKind<unknown>, type: WatchEventType, object: unknown): void {
    for (const w of this.watchersOf(kind)) this.deliver(w, type, object as Stored);
  }

  /** Forgets watch history: a watch from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.compactedBelow = this.revision + 1;
    this.history.length = 0;
  }

  /** Ends every open watch, normally (no error) or with `err`. */
  endWatches(err?: KubeApiError): void {
    for (const w of [...this.watchers]) this.end(w, err);
  }

  /** Ends every open watch with 410 Gone, as after etcd compaction. */
  expireWatches(): void {
    this.compact();
    this.endWatches(new KubeApiError('too old resource version', 410, 'Expired'));
  }

  /** While down, every call fails with a transport error and open watches break. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) this.endWatches(connectionRefused());
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  get resourceVersion(): string {
    return String(this.revision);
  }

  callsOf(method: Method): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  // --- KubeClient ----------------------------------------------------------

  async list<T>(
    kind: ResourceKind<T>,
    options: { namespace?: string; labelSelector?: string } = {},
  ): Promise<ListResult<T>> {
    await this.enter('list', kind, options);
    const items = [...this.store(kind).values()]
      .filter((o) => matches(o, options.namespace, options.labelSelector))
      .map((o) => clone(o) as unknown as T);
    return { items, resourceVersion: String(this.revision) };
  }

  async watch<T>(
    kind: ResourceKind<T>,
    options: { namespace?: string; labelSelector?: string; resourceVersion: string },
    handlers: WatchHandlers<T>,
  ): Promise<WatchHandle> {
    await this.enter('watch', kind, options);
    const watcher: Watcher = {
      kindId: kindId(kind),
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      handlers,
      open: true,
    };
    const from = options.resourceVersion === '' ? this.revision : Number(options.resourceVersion);
    this.watchers.add(watcher);
    // The real API server accepts the watch, then sends an ERROR event with 410.
    if (from < this.compactedBelow - 1) {
      queueMicrotask(() =>
        this.end(watcher, new KubeApiError('too old resource version', 410, 'Expired')),
      );
    } else {
      for (const h of this.history) {
        if (h.kindId === watcher.kindId && h.rv > from) this.deliver(watcher, h.type, h.object);
      }
    }
    return { stop: () => this.close(watcher) };
  }

  async get<T>(kind: ResourceKind<T>, ref: ObjectRef | { name: string }): Promise<T | undefined> {
    await this.enter('get', kind);
    const obj = this.store(kind).get(this.refKey(ref));
    return obj ? (clone(obj) as unknown as T) : undefined;
  }

  async exists(kind: ResourceKind<unknown>, ref: ObjectRef): Promise<boolean> {
    await this.enter('exists', kind);
    return this.store(kind).has(this.refKey(ref));
  }

  async create<T>(kind: ResourceKind<T>, object: T): Promise<T> {
    await this.enter('create', kind);
    const obj = clone(object) as unknown as Stored;
    if (this.store(kind).has(this.key(obj))) {
      throw new KubeApiError(
        `${kind.plural} "${obj.metadata.name}" already exists`,
        409,
        'AlreadyExists',
      );
    }
    this.validate(kind, obj);
    return this.write(kind, obj, 'ADDED') as unknown as T;
  }

  async replace<T>(kind: ResourceKind<T>, object: T): Promise<T> {
    await this.enter('replace', kind);
    const obj = clone(object) as unknown as Stored;
    const current = this.store(kind).get(this.key(obj));
    if (!current) {
      throw new KubeApiError(`${kind.plural} "${obj.metadata.name}" not found`, 404, 'NotFound');
    }
    const rv = obj.metadata.resourceVersion;
    if (rv !== undefined && rv !== current.metadata.resourceVersion) {
      throw new KubeApiError(
        `Operation cannot be fulfilled on ${kind.plural} "${obj.metadata.name}": the object has been modified`,
        409,
        'Conflict',
      );
    }
    this.validate(kind, obj);
    return this.write(kind, obj, 'MODIFIED') as unknown as T;
  }

  async patchStatus(
    kind: ResourceKind<unknown>,
    ref: ObjectRef,
    patch: Record<string, unknown>,
  ): Promise<void> {
    await this.enter('patchStatus', kind);
    const current = this.store(kind).get(this.refKey(ref));
    if (!current) {
      throw new KubeApiError(`${kind.plural} "${ref.name}" not found`, 404, 'NotFound');
    }
    const next = clone(current);
    next['status'] = mergePatch(current['status'], patch['status']);
    this.write(kind, next, 'MODIFIED');
  }

  async createEvent(event: EventInput): Promise<string> {
    await this.enter('createEvent', undefined);
    const name = `${event.involved.name}.${(++this.revision).toString(16)}`;
    this.events.push({ ...clone(event), name, count: 1 });
    return name;
  }

  async repeatEvent(ref: ObjectRef, count: number): Promise<void> {
    await this.enter('repeatEvent', undefined);
    const event = this.events.find(
      (e) => e.name === ref.name && e.involved.namespace === ref.namespace,
    );
    if (!event) throw new KubeApiError(`events "${ref.name}" not found`, 404, 'NotFound');
    event.count = count;
  }

  // --- internals -----------------------------------------------------------

  /** Records the call and applies outages and injected failures; resolves asynchronously like I/O. */
  private async enter(
    method: Method,
    kind: ResourceKind<unknown> | undefined,
    options?: RecordedCall['options'],
  ): Promise<void> {
    this.calls.push({
      method,
      kind: kind?.kind ?? '',
      ...(options ? { options: { ...options } } : {}),
    });
    await Promise.resolve();
    if (this.down) throw connectionRefused();
    const i = this.injected.findIndex((f) => f.method === method);
    if (i >= 0) {
      const f = this.injected[i]!;
      if (--f.times <= 0) this.injected.splice(i, 1);
      throw f.err;
    }
  }

  private validate(kind: ResourceKind<unknown>, obj: Stored): void {
    const result = kind.schema.safeParse(obj);
    if (!result.success) {
      throw new KubeApiError(
        `${kind.kind} "${obj.metadata.name}" is invalid: ${result.error.message}`,
        422,
        'Invalid',
      );
    }
  }

  private write(kind: ResourceKind<unknown>, obj: Stored, type: WatchEventType): Stored {
    obj.metadata.resourceVersion = String(++this.revision);
    this.store(kind).set(this.key(obj), obj);
    this.record(kindId(kind), type, obj);
    return clone(obj);
  }

  private record(id: string, type: WatchEventType, object: Stored): void {
    const entry: HistoryEntry = { rv: this.revision, kindId: id, type, object: clone(object) };
    this.history.push(entry);
    for (const w of this.watchers) if (w.kindId === id) this.deliver(w, type, entry.object);
  }

  /** Delivers on a later microtask, in order, as a network stream would. */
  private deliver(w: Watcher, type: WatchEventType, object: Stored): void {
    if (type !== 'BOOKMARK' && !matches(object, w.namespace, w.labelSelector)) return;
    const copy = clone(object);
    queueMicrotask(() => {
      if (w.open) w.handlers.onEvent(type, copy);
    });
  }

  private end(w: Watcher, err?: KubeApiError): void {
    if (!this.close(w)) return;
    queueMicrotask(() => w.handlers.onDone(err));
  }

  private close(w: Watcher): boolean {
    if (!w.open) return false;
    w.open = false;
    this.watchers.delete(w);
    return true;
  }

  private watchersOf(kind: ResourceKind<unknown>): Watcher[] {
    return [...this.watchers].filter((w) => w.kindId === kindId(kind));
  }

  private store(kind: ResourceKind<unknown>): Map<string, Stored> {
    const id = kindId(kind);
    let store = this.stores.get(id);
    if (!store) this.stores.set(id, (store = new Map<string, Stored>()));
    return store;
  }

  private key(obj: Stored): string {
    return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
  }

  private refKey(ref: ObjectRef | { name: string }): string {
    return `${'namespace' in ref ? ref.namespace : ''}/${ref.name}`;
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k], v);
  }
  return base;
}

/** Namespace and equality-based label selector (`a=b,c!=d,e,!f`), enough for tests. */
function matches(obj: Stored, namespace?: string, labelSelector?: string): boolean {
  if (namespace !== undefined && obj.metadata.namespace !== namespace) return false;
  if (!labelSelector) return true;
  const labels = obj.metadata.labels ?? {};
  return labelSelector
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .every((req) => {
      const ne = req.split('!=');
      if (ne.length === 2) return labels[ne[0]!.trim()] !== ne[1]!.trim();
      const eq = req.split(/==?/);
      if (eq.length === 2) return labels[eq[0]!.trim()] === eq[1]!.trim();
      if (req.startsWith('!')) return !(req.slice(1) in labels);
      return req in labels;
    });
}

/** How a partitioned caller reaches the API server. */
export type Reachability = 'ok' | 'refused' | 'hangs';

/**
 * Wraps a client so one caller can be cut off from the API server while
 * others still reach it: calls fail at once (`refused`) or never answer (`hangs`).
 */
export function partitionable(client: KubeClient): KubeClient & { reach: Reachability } {
  const through = <R>(call: () => Promise<R>): Promise<R> => {
    if (partitioned.reach === 'refused') return Promise.reject(connectionRefused());
    if (partitioned.reach === 'hangs') return new Promise<R>(() => {});
    return call();
  };
  const partitioned: KubeClient & { reach: Reachability } = {
    reach: 'ok',
    list: (kind, options) => through(() => client.list(kind, options)),
    watch: (kind, options, handlers) => through(() => client.watch(kind, options, handlers)),
    get: (kind, ref) => through(() => client.get(kind, ref)),
    exists: (kind, ref) => through(() => client.exists(kind, ref)),
    create: (kind, object) => through(() => client.create(kind, object)),
    replace: (kind, object) => through(() => client.replace(kind, object)),
    patchStatus: (kind, ref, patch) => through(() => client.patchStatus(kind, ref, patch)),
    createEvent: (event) => through(() => client.createEvent(event)),
    repeatEvent: (ref, count) => through(() => client.repeatEvent(ref, count)),
  };
  return partitioned;
}
