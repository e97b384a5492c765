// A list-then-watch cache of one resource kind that restarts itself after any
// failure (client-node's informer stops for good on an unexpected error).
import type {
  KubeApiError,
  KubeClient,
  ObjectMetaLike,
  ResourceKind,
  WatchEventType,
} from '../k8s/types.js';
import { systemClock, type Clock, type Timer } from './clock.js';

export interface InformerOptions<T> {
  kind: ResourceKind<T>;
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  clock?: Clock;
  /** Restart backoff after errors: doubles from min to max, with jitter. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** In [0, 1); the backoff is drawn from [d/2, d). Default Math.random. */
  random?: () => number;
  /** Told about every failure the informer recovers from (for logging). */
  onError?: (err: Error) => void;
  /** Cache key; default `namespace/name`, or `name` for cluster-scoped objects. */
  keyOf?: (obj: T) => string;
  /**
   * Keep only objects of these namespaces (watched cluster-wide): a
   * controller scoped to a few namespaces, e.g. an app namespace and the
   * platform namespace that grants it backends. Absent: every namespace.
   */
  namespaces?: readonly string[] | undefined;
}

export type InformerEvent<T> = {
  type: 'added' | 'updated' | 'deleted';
  key: string;
  object: T;
  old?: T;
};

/** A watch that ends cleanly this soon with no events is treated like a failure, so we do not hammer the API server. */
const SHORT_WATCH_MS = 1_000;

export function defaultKeyOf(obj: ObjectMetaLike): string {
  const { namespace, name } = obj.metadata;
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * The cache, watching one kind. The public API exposes T only in covariant
 * positions (the machinery lives in InformerCore, typed by the metadata it
 * reads), so an Informer<ModelRoute> can be used where an Informer of
 * "anything with metadata" is expected.
 */
export class Informer<T extends ObjectMetaLike> {
  private readonly core: InformerCore<ObjectMetaLike>;

  constructor(client: KubeClient, options: InformerOptions<T>) {
    // Safe: the core hands back exactly the objects the client returned for this kind.
    this.core = new InformerCore(client, options as unknown as InformerOptions<ObjectMetaLike>);
  }

  on(listener: (event: InformerEvent<T>) => void): void {
    this.core.on(listener as (event: InformerEvent<ObjectMetaLike>) => void);
  }

  start(): void {
    this.core.start();
  }

  stop(): void {
    this.core.stop();
  }

  get(key: string): T | undefined {
    return this.core.get(key) as T | undefined;
  }

  list(): T[] {
    return this.core.list() as T[];
  }

  /** True once the first list succeeded; stays true across reconnects (the cache is kept). */
  get synced(): boolean {
    return this.core.synced;
  }

  /** The resourceVersion the next watch would start from. */
  get lastResourceVersion(): string {
    return this.core.lastResourceVersion;
  }

  /** Resolves once synced; rejects after `timeoutMs` (if given) or when stopped first. */
  waitForSync(timeoutMs?: number): Promise<void> {
    return this.core.waitForSync(timeoutMs);
  }
}

class InformerCore<T extends ObjectMetaLike> {
  private readonly kind: ResourceKind<T>;
  private readonly clock: Clock;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  private readonly keyOf: (obj: T) => string;

  private cache = new Map<string, T>();
  private readonly listeners: Array<(event: InformerEvent<T>) => void> = [];
  private syncWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private rv = '';
  private hasSynced = false;
  private running = false;
  /** Bumped on every transition; callbacks from an older list or watch are ignored. */
  private epoch = 0;
  private watchHandle: { stop(): void } | undefined;
  private retryTimer: Timer | undefined;
  private failures = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions<T>,
  ) {
    this.kind = options.kind;
    this.clock = options.clock ?? systemClock;
    this.minBackoffMs = options.minBackoffMs ?? 800;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.keyOf = options.keyOf ?? defaultKeyOf;
  }

  on(listener: (event: InformerEvent<T>) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.epoch++;
    void this.relist();
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.epoch++;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.watchHandle?.stop();
    this.watchHandle = undefined;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters)
      w.reject(new Error(`${this.kind.kind} informer stopped before it synced`));
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** True once the first list succeeded; stays true across reconnects (the cache is kept). */
  get synced(): boolean {
    return this.hasSynced;
  }

  get lastResourceVersion(): string {
    return this.rv;
  }

  waitForSync(timeoutMs?: number): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: Timer | undefined;
      const waiter = {
        resolve: () => {
          this.clock.clearTimeout(timer);
          resolve();
        },
        reject: (err: Error) => {
          this.clock.clearTimeout(timer);
          reject(err);
        },
      };
      this.syncWaiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = this.clock.setTimeout(() => {
          this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
          reject(
            new Error(
              `${this.kind.kind} informer did not sync within ${timeoutMs} ms: is the API server reachable and may we list ${this.kind.plural}?`,
            ),
          );
        }, timeoutMs);
      }
    });
  }

  private async relist(): Promise<void> {
    const epoch = this.epoch;
    let result;
    try {
      result = await this.client.list(this.kind, this.scope());
    } catch (err) {
      if (epoch === this.epoch) this.fail(err, 'list');
      return;
    }
    if (epoch !== this.epoch) return;
    this.replaceCache(result.items);
    this.rv = result.resourceVersion;
    if (!this.hasSynced) {
      this.hasSynced = true;
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w.resolve();
    }
    void this.watchFrom(this.rv);
  }

  private async watchFrom(resourceVersion: string): Promise<void> {
    const epoch = this.epoch;
    const startedAt = this.clock.now();
    let sawEvent = false;
    let handle;
    try {
      handle = await this.client.watch(
        this.kind,
        { ...this.scope(), resourceVersion },
        {
          onEvent: (type, object) => {
            if (epoch !== this.epoch) return;
            sawEvent = true;
            this.failures = 0;
            try {
              this.apply(type, object);
            } catch (err) {
              // One malformed object (or a keyOf that chokes on it) must not end the watch.
              this.report(
                new Error(`${this.kind.kind} watch: ${type} event skipped`, { cause: err }),
              );
            }
          },
          onDone: (err) => {
            if (epoch !== this.epoch) return;
            this.epoch++;
            this.watchHandle = undefined;
            this.watchEnded(err, sawEvent, this.clock.now() - startedAt);
          },
        },
      );
    } catch (err) {
      if (epoch === this.epoch) this.fail(err, 'watch');
      return;
    }
    // onDone may already have run, or stop() may have been called meanwhile.
    if (epoch !== this.epoch) handle.stop();
    else this.watchHandle = handle;
  }

  private watchEnded(err: KubeApiError | undefined, sawEvent: boolean, livedMs: number): void {
    if (err?.status === 410) {
      // Our resourceVersion is older than the API server keeps history for:
      // only a fresh list (diffed against the cache) shows what we missed.
      void this.relist();
      return;
    }
    if (err) {
      this.fail(err, 'watch');
      return;
    }
    if (!sawEvent && livedMs < SHORT_WATCH_MS) {
      this.retryAfterBackoff(() => void this.watchFrom(this.rv));
      return;
    }
    this.failures = 0;
    void this.watchFrom(this.rv);
  }

  private fail(err: unknown, during: 'list' | 'watch'): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.report(
      new Error(`${this.kind.kind} ${during} failed, relisting after backoff: ${error.message}`, {
        cause: error,
      }),
    );
    this.retryAfterBackoff(() => void this.relist());
  }

  private retryAfterBackoff(next: () => void): void {
    const ceiling = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** this.failures);
    this.failures++;
    const delay = ceiling / 2 + (this.random() * ceiling) / 2;
    const epoch = ++this.epoch;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (epoch === this.epoch && this.running) next();
    }, delay);
  }

  private apply(type: WatchEventType, object: T): void {
    const meta = (object as Partial<ObjectMetaLike> | null | undefined)?.metadata;
    if (!meta || typeof meta !== 'object') {
      this.report(new Error(`${this.kind.kind} watch: ${type} event without metadata, skipped`));
      return;
    }
    if (typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '') {
      this.rv = meta.resourceVersion;
    }
    if (type === 'BOOKMARK') return;
    if (typeof meta.name !== 'string' || meta.name === '') {
      this.report(new Error(`${this.kind.kind} watch: ${type} event without a name, skipped`));
      return;
    }
    if (!this.keeps(object)) return;
    const key = this.keyOf(object);
    const old = this.cache.get(key);
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.cache.set(key, object);
        if (!old) this.emit({ type: 'added', key, object });
        else if (changed(old, object)) this.emit({ type: 'updated', key, object, old });
        return;
      case 'DELETED':
        if (!old) return;
        this.cache.delete(key);
        this.emit({ type: 'deleted', key, object, old });
        return;
      default:
        this.report(
          new Error(`${this.kind.kind} watch: unknown event type ${String(type)}, skipped`),
        );
    }
  }

  private keeps(object: T): boolean {
    const only = this.options.namespaces;
    return only === undefined || only.includes(object.metadata.namespace ?? '');
  }

  /** Swaps in a fresh list and emits the difference, so a relist misses nothing. */
  private replaceCache(items: T[]): void {
    const previous = this.cache;
    const next = new Map<string, T>();
    for (const item of items) if (this.keeps(item)) next.set(this.keyOf(item), item);
    this.cache = next;
    for (const [key, object] of next) {
      const old = previous.get(key);
      if (!old) this.emit({ type: 'added', key, object });
      else if (changed(old, object)) this.emit({ type: 'updated', key, object, old });
    }
    for (const [key, old] of previous) {
      if (!next.has(key)) this.emit({ type: 'deleted', key, object: old, old });
    }
  }

  private emit(event: InformerEvent<T>): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.report(
          new Error(`${this.kind.kind} informer listener failed on ${event.type} ${event.key}`, {
            cause: err,
          }),
        );
      }
    }
  }

  private report(err: Error): void {
    try {
      this.options.onError?.(err);
    } catch {
      // Logging must never break the watch loop.
    }
  }

  private scope(): { namespace?: string; labelSelector?: string } {
    const scope: { namespace?: string; labelSelector?: string } = {};
    if (this.options.namespace !== undefined) scope.namespace = this.options.namespace;
    if (this.options.labelSelector !== undefined) scope.labelSelector = this.options.labelSelector;
    return scope;
  }
}

/** Without resourceVersions we cannot tell, so assume it changed. */
function changed(old: ObjectMetaLike, next: ObjectMetaLike): boolean {
  const a = old.metadata.resourceVersion;
  const b = next.metadata.resourceVersion;
  return a === undefined || b === undefined || a !== b;
}
