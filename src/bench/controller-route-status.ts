// What the controller says about the ModelRoutes of one namespace, from a
// list-then-watch: how many are programmed on every proxy at their current
// generation, and a way to wait for a condition on them.
import type { ModelRoute } from '../api/v1alpha1/index.js';
import { modelRoutes } from '../k8s/kinds.js';
import type { KubeClient, WatchHandle } from '../k8s/types.js';

export interface RouteProgress {
  generation: number | undefined;
  observedGeneration: number | undefined;
  /** status.programmed, e.g. "10/10". */
  programmed: string | undefined;
}

/** Programmed on all `proxies` at the generation it has now. */
export function isFullyProgrammed(route: RouteProgress, proxies: number): boolean {
  return (
    route.programmed === `${proxies}/${proxies}` &&
    route.generation !== undefined &&
    route.observedGeneration === route.generation
  );
}

const progressOf = (route: ModelRoute): RouteProgress => ({
  generation: route.metadata.generation,
  observedGeneration: route.status?.observedGeneration,
  programmed: route.status?.programmed,
});

interface Waiter {
  done: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class RouteStatusWatch {
  private readonly routes = new Map<string, RouteProgress>();
  private readonly waiters = new Set<Waiter>();
  private handle: WatchHandle | undefined;
  private stopped = false;
  /** Names fully programmed on `proxies`, kept up to date on every event (1,000 routes, thousands of events). */
  private readonly programmed = new Set<string>();

  private constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly proxies: number,
  ) {}

  static async start(
    client: KubeClient,
    namespace: string,
    proxies: number,
  ): Promise<RouteStatusWatch> {
    const watch = new RouteStatusWatch(client, namespace, proxies);
    await watch.listAndWatch();
    return watch;
  }

  get size(): number {
    return this.routes.size;
  }

  /** Routes programmed on every proxy at their current generation. */
  get fullyProgrammed(): number {
    return this.programmed.size;
  }

  get(name: string): RouteProgress | undefined {
    return this.routes.get(name);
  }

  /** Resolves once `done()` holds (checked now and after every event); rejects after `timeoutMs`. */
  waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        done,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`${what}: not within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  stop(): void {
    this.stopped = true;
    this.handle?.stop();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('route status watch stopped'));
    }
    this.waiters.clear();
  }

  private update(name: string, progress: RouteProgress | undefined): void {
    if (progress) this.routes.set(name, progress);
    else this.routes.delete(name);
    if (progress && isFullyProgrammed(progress, this.proxies)) this.programmed.add(name);
    else this.programmed.delete(name);
    for (const w of [...this.waiters]) {
      if (!w.done()) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve();
    }
  }

  private async listAndWatch(): Promise<void> {
    const { items, resourceVersion } = await this.client.list(modelRoutes, {
      namespace: this.namespace,
    });
    this.routes.clear();
    this.programmed.clear();
    for (const route of items) this.update(route.metadata.name, progressOf(route));
    this.handle = await this.client.watch(
      modelRoutes,
      { namespace: this.namespace, resourceVersion },
      {
        onEvent: (type, route) => {
          if (type === 'BOOKMARK') return;
          this.update(route.metadata.name, type === 'DELETED' ? undefined : progressOf(route));
        },
        // The server ends watches after a few minutes, or they fail: list again and carry on.
        onDone: () => {
          if (this.stopped) return;
          setTimeout(() => {
            if (!this.stopped) this.listAndWatch().catch(() => this.onDoneRetry());
          }, 100);
        },
      },
    );
  }

  private onDoneRetry(): void {
    if (this.stopped) return;
    setTimeout(() => {
      if (!this.stopped) this.listAndWatch().catch(() => this.onDoneRetry());
    }, 1_000);
  }
}
