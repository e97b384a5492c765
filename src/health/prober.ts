// Active health checks of backends, used by the controller and by local mode:
// probes each backend on its own interval and reports health transitions.
import { durationToMs, type ModelBackend } from '../api/v1alpha1/index.js';
import { BackendHealthTracker, type HealthTransition } from '../routing/health-tracker.js';
import type { CompiledBackend } from '../routing/table.js';

export interface ProbeTarget {
  backend: CompiledBackend;
  spec: ModelBackend['spec'];
}

/** The probe request for a backend, per its healthCheck.probe kind and provider. */
export function probeRequest(
  target: ProbeTarget,
  apiKey: string | undefined,
): { url: string; init: RequestInit } {
  const { backend, spec } = target;
  const probe = spec.healthCheck?.probe ?? 'models';
  const headers: Record<string, string> = {};
  if (apiKey) {
    if (backend.provider === 'azure-openai') headers['api-key'] = apiKey;
    else if (backend.provider === 'anthropic') headers['x-api-key'] = apiKey;
    else headers.authorization = `Bearer ${apiKey}`;
  }
  if (backend.provider === 'anthropic')
    headers['anthropic-version'] = backend.anthropic?.version ?? '2023-06-01';
  if (probe === 'http') {
    return {
      url: new URL(spec.healthCheck?.path ?? '/', backend.baseUrl).toString(),
      init: { headers },
    };
  }
  if (probe === 'completion') {
    const body = {
      model: backend.model,
      max_tokens: 1,
      messages: [{ role: 'user', content: 'ping' }],
    };
    const url =
      backend.provider === 'anthropic'
        ? `${backend.baseUrl}${backend.baseUrl.endsWith('/v1') ? '' : '/v1'}/messages`
        : backend.provider === 'azure-openai'
          ? `${backend.baseUrl}/openai/deployments/${backend.azure?.deployment ?? ''}/chat/completions?api-version=${backend.azure?.apiVersion ?? ''}`
          : `${backend.baseUrl}/chat/completions`;
    return {
      url,
      init: {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
    };
  }
  const url =
    backend.provider === 'anthropic'
      ? `${backend.baseUrl}${backend.baseUrl.endsWith('/v1') ? '' : '/v1'}/models`
      : backend.provider === 'azure-openai'
        ? `${backend.baseUrl}/openai/models?api-version=${backend.azure?.apiVersion ?? ''}`
        : `${backend.baseUrl}/models`;
  return { url, init: { headers } };
}

export interface HealthProberOptions {
  /** The API key for a backend, when the prober may use one (the proxy may; the controller may not). */
  apiKeyFor?: (backend: CompiledBackend) => string | undefined;
  /**
   * Count 401/403/404 answers as up: a prober without credentials still learns
   * the endpoint answers; the proxies' outcome stats tell whether calls work.
   */
  clientErrorsMeanUp?: boolean;
  now: () => number;
  onTransition: (transition: HealthTransition) => void;
  /** Upper bound on probe intervals, so local mode notices changes quickly. */
  maxIntervalMs?: number;
  /**
   * A reason not to believe a successful probe right now, e.g. the proxies'
   * real calls are failing while the probe endpoint still answers.
   */
  distrust?: (backendId: string) => string | undefined;
}

export class HealthProber {
  readonly tracker: BackendHealthTracker;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly targets = new Map<string, ProbeTarget>();
  private stopped = false;

  constructor(private readonly options: HealthProberOptions) {
    this.tracker = new BackendHealthTracker(options.now);
  }

  async probeOnce(target: ProbeTarget): Promise<HealthTransition | undefined> {
    const { spec, backend } = target;
    const timeoutMs = durationToMs(spec.healthCheck?.timeout ?? '5s');
    const thresholds = {
      unhealthyThreshold: spec.healthCheck?.unhealthyThreshold ?? 3,
      healthyThreshold: spec.healthCheck?.healthyThreshold ?? 2,
    };
    let ok = false;
    let message: string;
    try {
      const { url, init } = probeRequest(target, this.options.apiKeyFor?.(backend));
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      ok =
        res.ok ||
        (this.options.clientErrorsMeanUp === true &&
          res.status >= 400 &&
          res.status < 500 &&
          res.status !== 429);
      message = `probe answered HTTP ${res.status}`;
      const doubt = ok ? this.options.distrust?.(backend.id) : undefined;
      if (doubt !== undefined) {
        ok = false;
        message = `${message}, but ${doubt}`;
      }
    } catch (err) {
      message = `probe failed: ${(err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message}`;
    }
    const transition = this.tracker.observe(backend.id, ok, thresholds, message);
    if (transition) this.options.onTransition(transition);
    return transition;
  }

  /** Probes exactly these targets from now on: new ones start, removed ones stop, changed specs apply. */
  sync(targets: readonly ProbeTarget[]): void {
    this.stopped = false; // a new leader term probes again
    const wanted = new Map(
      targets.filter((t) => t.spec.healthCheck?.enabled !== false).map((t) => [t.backend.id, t]),
    );
    for (const id of [...this.targets.keys()]) {
      if (!wanted.has(id)) {
        this.targets.delete(id);
        clearTimeout(this.timers.get(id));
        this.timers.delete(id);
      }
    }
    this.tracker.retain(wanted.keys());
    for (const [id, target] of wanted) {
      const running = this.targets.has(id);
      this.targets.set(id, target);
      if (!running) void this.loop(id);
    }
  }

  /** Same as sync; kept for callers that start once. */
  start(targets: readonly ProbeTarget[]): void {
    this.sync(targets);
  }

  private async loop(id: string): Promise<void> {
    const target = this.targets.get(id);
    if (this.stopped || !target) return;
    await this.probeOnce(target);
    const current = this.targets.get(id);
    if (this.stopped || !current) return;
    const interval = Math.min(
      durationToMs(current.spec.healthCheck?.interval ?? '30s'),
      this.options.maxIntervalMs ?? Infinity,
    );
    this.timers.set(
      id,
      setTimeout(() => void this.loop(id), interval),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
