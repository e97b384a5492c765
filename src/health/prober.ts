// Active health checks of backends, used by the controller and by local mode:
// probes each backend on its own interval and reports health transitions.
import { ConditionReason, durationToMs, type ModelBackend } from '../api/v1alpha1/index.js';
import { PROBE_PATH_PATTERN } from '../api/v1alpha1/modelbackend.js';
import { scrubUrls } from '../routing/endpoint-display.js';
import { BackendHealthTracker, type HealthTransition } from '../routing/health-tracker.js';
import { adapterFor } from '../providers/registry.js';
import type { UpstreamAuth } from '../providers/types.js';
import type { CompiledBackend } from '../routing/table.js';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { withBackendHeaders } from '../proxy/egress/upstream-headers.js';

export interface ProbeTarget {
  backend: CompiledBackend;
  spec: ModelBackend['spec'];
}

/**
 * `suffix` (a path, maybe with a query) on the backend's base URL, or, when
 * `replacePath`, on its origin alone. Refuses any result whose scheme, host or
 * port differ from the base's, or that carries userinfo: a probe carries the
 * backend's key and must never leave its origin.
 */
export function urlOnOrigin(baseUrl: string, suffix: string, replacePath = false): string {
  const base = new URL(baseUrl);
  let url: URL;
  if (replacePath) {
    if (!PROBE_PATH_PATTERN.test(suffix)) {
      throw new Error(
        `probe path ${JSON.stringify(suffix)} is not a single absolute path on the backend (no "//", backslash or "#")`,
      );
    }
    url = new URL(base.origin);
    const q = suffix.indexOf('?');
    url.pathname = q < 0 ? suffix : suffix.slice(0, q);
    url.search = q < 0 ? '' : suffix.slice(q);
  } else {
    url = new URL(`${baseUrl}${suffix}`);
  }
  if (url.origin !== base.origin || url.username !== '' || url.password !== '') {
    throw new Error(
      `probe URL would leave the backend's origin ${base.origin}; refusing to send it`,
    );
  }
  return url.toString();
}

/**
 * The probe request for a backend, per its healthCheck.probe kind: the
 * provider's adapter says what `models` and `completion` are (URL, headers,
 * body); `http` is a GET of healthCheck.path with the same credentials.
 */
export async function probeRequest(
  target: ProbeTarget,
  auth: UpstreamAuth | undefined,
): Promise<{ url: string; init: RequestInit }> {
  const { backend, spec } = target;
  const probe = spec.healthCheck?.probe ?? 'models';
  const adapter = adapterFor(backend.provider);
  const asked = await adapter.probeRequest({
    backend,
    kind: probe === 'completion' ? 'completion' : 'models',
    auth,
  });
  // A redirect is answered as such, never followed: the key stays on this origin.
  if (probe === 'http') {
    return {
      url: urlOnOrigin(backend.baseUrl, spec.healthCheck?.path ?? '/', true),
      init: {
        headers: withBackendHeaders(backend, credentialHeaders(asked.headers)),
        redirect: 'manual',
      },
    };
  }
  return {
    url: checkedOnOrigin(backend.baseUrl, asked.url),
    init: {
      method: asked.method,
      // The backend's extra headers (e.g. OpenAI-Project), as on its calls.
      headers: withBackendHeaders(backend, { ...asked.headers }),
      redirect: 'manual',
      ...(asked.body !== undefined ? { body: asked.body } : {}),
    },
  };
}

/** An http probe sends the adapter's credential headers, none of its content headers. */
function credentialHeaders(headers: Record<string, string>): Record<string, string> {
  const out = { ...headers };
  delete out['content-type'];
  return out;
}

/** The adapter's URL, refused if it would leave the backend's origin (a probe carries its key). */
function checkedOnOrigin(baseUrl: string, url: string): string {
  const base = new URL(baseUrl);
  const parsed = new URL(url);
  if (parsed.origin !== base.origin || parsed.username !== '' || parsed.password !== '') {
    throw new Error(
      `probe URL would leave the backend's origin ${base.origin}; refusing to send it`,
    );
  }
  return parsed.toString();
}

/**
 * A TLS handshake the server answered but the prober could not complete:
 * its certificate chains to a CA the prober does not hold, names another
 * host, or the server wants a client certificate. The endpoint is there.
 */
function isTlsRefusal(err: unknown): boolean {
  const code = tlsCode(err);
  return (
    code !== undefined &&
    (/CERT|SSL|TLS/.test(code) ||
      code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
      code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY')
  );
}

/** The error code of a fetch failure (fetch wraps it as `cause`; errors may come from another realm). */
function tlsCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    current = cause;
  }
  return undefined;
}

export interface ProbeVerdict {
  ok: boolean;
  /** CamelCase cause when not ok. */
  reason?: string;
  message: string;
}

/**
 * What an HTTP answer to a probe says. Only 2xx is up. 401/403 mean the key
 * was refused, unless the prober sent none for a backend that has one (the
 * controller never reads keys): then the endpoint answering is all it can
 * learn, and the proxies' calls judge the key. 404 means the API is not where
 * spec.endpoint says; a redirect is not followed by proxies either.
 */
export function judgeProbeAnswer(
  status: number,
  context: { path: string; sentKey: boolean; hasCredentials: boolean; clientErrorsMeanUp: boolean },
): ProbeVerdict {
  const answered = `probe answered HTTP ${status}`;
  if (status >= 200 && status < 300) return { ok: true, message: answered };
  if (status >= 300 && status < 400) {
    return {
      ok: false,
      reason: ConditionReason.EndpointRedirects,
      message: `${answered} (a redirect) for ${context.path}; proxies do not follow redirects: set spec.endpoint to the URL it redirects to`,
    };
  }
  if (status === 401 || status === 403) {
    if (!context.sentKey && context.hasCredentials && context.clientErrorsMeanUp)
      return {
        ok: true,
        message: `${answered} to a probe without the key (the endpoint answers; proxies' calls judge the key)`,
      };
    return {
      ok: false,
      reason: ConditionReason.CredentialRefused,
      message: context.sentKey
        ? `${answered}: the backend refused the credential from spec.secretRef; check the key in the Secret`
        : `${answered}: the backend wants a credential; set spec.secretRef to a Secret holding the API key`,
    };
  }
  if (status === 404) {
    return {
      ok: false,
      reason: ConditionReason.EndpointPathNotFound,
      message: `${answered} for ${context.path}: endpoint path not found; check spec.endpoint (OpenAI-style APIs usually end in /v1) or healthCheck.path`,
    };
  }
  if (status === 429) {
    return {
      ok: false,
      reason: ConditionReason.RateLimited,
      message: `${answered} (rate limited)`,
    };
  }
  if (status >= 400 && status < 500 && context.clientErrorsMeanUp) {
    return { ok: true, message: `${answered} (the endpoint answers)` };
  }
  return { ok: false, reason: ConditionReason.ProbeFailed, message: answered };
}

export interface HealthProberOptions {
  /** The credential for a backend, when the prober may use one (the proxy may; the controller may not). */
  authFor?: (
    backend: CompiledBackend,
  ) => UpstreamAuth | undefined | Promise<UpstreamAuth | undefined>;
  /**
   * For a prober without keys (the controller): a 401/403 to a backend that
   * has a secretRef, and other 4xx except 404 and 429, count as up: the
   * endpoint answers, and the proxies' outcome stats tell whether calls work.
   * Likewise a TLS handshake that fails for a backend with spec.tls (a private
   * CA, a client certificate): without a dispatcherFor the prober holds neither.
   */
  clientErrorsMeanUp?: boolean;
  /**
   * The connections a probe of a backend goes over (local mode: the proxy's
   * own pools, with the backend's CA bundle, client certificate and the
   * egress proxy); default: the global fetch's. Throws when the backend's TLS
   * material cannot be had (the probe fails with that message).
   */
  dispatcherFor?: (backend: CompiledBackend, origin: string) => Dispatcher;
  /** The fetch of probes without a dispatcherFor (the controller's: through its egress proxy); default the global one. */
  fetch?: typeof globalThis.fetch;
  now: () => number;
  onTransition: (transition: HealthTransition) => void;
  /** Upper bound on probe intervals, so local mode notices changes quickly. */
  maxIntervalMs?: number;
  /**
   * A reason not to believe a successful probe right now, e.g. the proxies'
   * real calls are failing while the probe endpoint still answers.
   */
  distrust?: (backendId: string) => { reason: string; message: string } | undefined;
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
    let verdict: ProbeVerdict;
    try {
      const auth = await this.options.authFor?.(backend);
      const { url, init } = await probeRequest(target, auth);
      const signal = AbortSignal.timeout(timeoutMs);
      const dispatcher = this.options.dispatcherFor?.(backend, new URL(url).origin);
      const res =
        dispatcher === undefined
          ? await (this.options.fetch ?? fetch)(url, { ...init, signal })
          : await undiciFetch(url, {
              ...(init as Parameters<typeof undiciFetch>[1]),
              signal,
              dispatcher,
            });
      await res.arrayBuffer();
      verdict = judgeProbeAnswer(res.status, {
        path: new URL(url).pathname,
        sentKey: auth !== undefined,
        hasCredentials: backend.credentials !== undefined || backend.auth !== undefined,
        clientErrorsMeanUp: this.options.clientErrorsMeanUp === true,
      });
      const doubt = verdict.ok ? this.options.distrust?.(backend.id) : undefined;
      if (doubt !== undefined) {
        verdict = {
          ok: false,
          reason: doubt.reason,
          message: `${verdict.message}, but ${doubt.message}`,
        };
      }
    } catch (err) {
      verdict =
        backend.tls !== undefined &&
        this.options.clientErrorsMeanUp === true &&
        this.options.dispatcherFor === undefined &&
        isTlsRefusal(err)
          ? {
              ok: true,
              message: `probe reached the endpoint, which wants TLS settings (spec.tls) only the proxies hold (${tlsCode(err)}); proxies' calls judge them`,
            }
          : {
              ok: false,
              reason: ConditionReason.ProbeFailed,
              message: `probe failed: ${(err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : scrubUrls((err as Error).message)}`,
            };
    }
    const transition = this.tracker.observe(
      backend.id,
      verdict.ok,
      thresholds,
      verdict.message,
      verdict.reason,
    );
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
