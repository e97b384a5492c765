// KubeClient over node:http/https: raw JSON requests (objects reach zod
// exactly as the API server sent them) and watches (api-server.ts), with no
// Kubernetes client library loaded for the common kubeconfigs (cluster-access.ts).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { connectApiServer, messageOf, type ApiServerOptions } from './api-server.js';
import { errorFromStatus } from './api-status.js';
import type { KubeconfigPlaces } from './cluster-access.js';
import {
  KubeApiError,
  type EventInput,
  type JsonPatchOperation,
  type KubeClient,
  type KubeDeleter,
  type KubePatcher,
  type ListResult,
  type ObjectRef,
  type ResourceKind,
  type WatchEventType,
  type WatchHandle,
  type WatchHandlers,
} from './types.js';

export { errorFromStatus };

export interface KubeClientOptions {
  /** A kubeconfig file; default KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount. */
  kubeconfigPath?: string | undefined;
  /** A context of that kubeconfig (as kubectl's --context); default its current context. */
  context?: string | undefined;
  userAgent?: string | undefined;
  /** Told about every object skipped because it failed our schema (default: a warning on stderr). */
  onInvalid?:
    | ((
        kind: string,
        name: string,
        message: string,
        generation?: number,
        /** metadata.uid, so an Event about it is listed by `kubectl describe`. */
        uid?: string,
      ) => void)
    | undefined;
  /** Per request (not watches); default 30 s. */
  requestTimeoutMs?: number | undefined;
  /** Where the default kubeconfig and ServiceAccount are looked for (tests). */
  places?: KubeconfigPlaces | undefined;
  /** Told about every request answered or failed (rest_client_requests_total). */
  onRequest?: ApiServerOptions['onRequest'];
}

type AnyKind = ResourceKind<unknown>;
type Json = Record<string, unknown>;

const PARTIAL_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const PARTIAL_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const LIST_PAGE_SIZE = 500;

/** Secrets are read as metadata only (their data never leaves the API server), unless the kind opts in. */
const metadataOnly = (kind: AnyKind): boolean =>
  kind.group === '' && kind.plural === 'secrets' && kind.readsSecretData !== true;

const apiVersionOf = (kind: AnyKind): string =>
  kind.group === '' ? kind.version : `${kind.group}/${kind.version}`;

const isRecord = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function collectionPath(kind: AnyKind, namespace: string | undefined): string {
  const root = kind.group === '' ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`;
  const ns = kind.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${ns}/${kind.plural}`;
}

function objectPath(kind: AnyKind, ref: ObjectRef | { name: string }): string {
  const namespace = 'namespace' in ref ? ref.namespace : undefined;
  if (kind.namespaced && !namespace) {
    throw new KubeApiError(`${kind.kind} "${ref.name}" needs a namespace`);
  }
  return `${collectionPath(kind, namespace)}/${encodeURIComponent(ref.name)}`;
}

/** The name and namespace of an object we are about to write. */
function refOf(kind: AnyKind, object: unknown): ObjectRef | { name: string } {
  const meta = isRecord(object) && isRecord(object.metadata) ? object.metadata : {};
  if (typeof meta.name !== 'string' || meta.name === '') {
    throw new KubeApiError(`${kind.kind} to write has no metadata.name`);
  }
  return typeof meta.namespace === 'string' && meta.namespace !== ''
    ? { namespace: meta.namespace, name: meta.name }
    : { name: meta.name };
}

const displayName = (object: unknown): string => {
  const meta = isRecord(object) && isRecord(object.metadata) ? object.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '(no name)';
  return typeof meta.namespace === 'string' ? `${meta.namespace}/${name}` : name;
};

const issuesText = (error: z.ZodError): string =>
  error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');

/**
 * Prepares an object for validation: list items of built-in kinds come without
 * apiVersion/kind, metadata-only answers say PartialObjectMetadata, and
 * managedFields (often the bulk of an object) is never read, so it is dropped.
 */
function normalize(kind: AnyKind, raw: unknown): unknown {
  if (!isRecord(raw)) return raw;
  const out: Json = { ...raw };
  if (out.apiVersion === undefined || out.kind === 'PartialObjectMetadata') {
    out.apiVersion = apiVersionOf(kind);
    out.kind = kind.kind;
  }
  if (isRecord(out.metadata) && 'managedFields' in out.metadata) {
    const { managedFields: _unused, ...metadata } = out.metadata;
    out.metadata = metadata;
  }
  return out;
}

type Checked<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      name: string;
      message: string;
      generation?: number | undefined;
      uid?: string | undefined;
    };

const metaOf = (object: unknown): Record<string, unknown> =>
  isRecord(object) && isRecord(object.metadata) ? object.metadata : {};
const generationOf = (object: unknown): number | undefined => {
  const meta = metaOf(object);
  return typeof meta.generation === 'number' ? meta.generation : undefined;
};
const uidOf = (object: unknown): string | undefined => {
  const meta = metaOf(object);
  return typeof meta.uid === 'string' ? meta.uid : undefined;
};

function check<T>(kind: ResourceKind<T>, raw: unknown): Checked<T> {
  const object = normalize(kind, raw);
  const parsed = kind.schema.safeParse(object);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    name: displayName(object),
    message: issuesText(parsed.error),
    generation: generationOf(object),
    uid: uidOf(object),
  };
}

export interface TranslatedWatchEvent<T> {
  /** Deliver this to onEvent. */
  event?: { type: WatchEventType; object: T };
  /** Report this object as invalid. */
  invalid?: {
    name: string;
    message: string;
    generation?: number | undefined;
    uid?: string | undefined;
  };
  /** The watch is over (an ERROR event): call onDone with this. */
  error?: KubeApiError;
}

const watchedMeta = z.looseObject({
  metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().optional() }),
});

/**
 * Turns one watch event into what the handlers should see. An object that
 * fails our schema is reported; if it was MODIFIED or DELETED it is delivered
 * as DELETED (metadata checked, the rest unread), so the watch agrees with a
 * list, which leaves invalid objects out, and no stale copy stays cached.
 */
export function translateWatchEvent<T>(
  kind: ResourceKind<T>,
  type: string,
  raw: unknown,
): TranslatedWatchEvent<T> {
  switch (type) {
    case 'ERROR':
      return { error: errorFromStatus(`watch ${kind.plural}`, raw) };
    case 'BOOKMARK': {
      // A bookmark carries only metadata.resourceVersion: nothing to validate.
      const meta = isRecord(raw) && isRecord(raw.metadata) ? raw.metadata : {};
      const resourceVersion = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
      return { event: { type, object: { metadata: { name: '', resourceVersion } } as T } };
    }
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED': {
      const checked = check(kind, raw);
      if (checked.ok) return { event: { type, object: checked.value } };
      const invalid = {
        name: checked.name,
        message: checked.message,
        generation: checked.generation,
        uid: checked.uid,
      };
      if (type === 'ADDED' || !watchedMeta.safeParse(raw).success) return { invalid };
      // Only metadata is guaranteed here; consumers of DELETED read nothing else.
      return { invalid, event: { type: 'DELETED', object: normalize(kind, raw) as T } };
    }
    default:
      return {};
  }
}

const listPage = z.looseObject({
  metadata: z
    .looseObject({ resourceVersion: z.string().optional(), continue: z.string().optional() })
    .optional(),
  items: z.array(z.unknown()).nullish(),
});

const nowSeconds = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function createKubeClient(
  options: KubeClientOptions = {},
): KubeClient & KubePatcher & KubeDeleter {
  const api = connectApiServer({
    kubeconfigPath: options.kubeconfigPath,
    context: options.context,
    userAgent: options.userAgent,
    requestTimeoutMs: options.requestTimeoutMs,
    places: options.places,
    onRequest: options.onRequest,
  });
  const { request } = api;
  const reporter =
    options.onInvalid ??
    ((kind: string, name: string, message: string) =>
      console.warn(
        `modelroute: skipped ${kind} ${name}: it does not match the schema: ${message}`,
      ));
  const report = (
    kind: AnyKind,
    name: string,
    message: string,
    generation?: number,
    uid?: string,
  ): void => {
    try {
      reporter(kind.kind, name, message, generation, uid);
    } catch {
      // A failing reporter must not break a list or a watch.
    }
  };

  /** Validates an object the server returned from a read or write; one we cannot use is an error. */
  function mustCheck<T>(kind: ResourceKind<T>, raw: unknown, what: string): T {
    const checked = check(kind, raw);
    if (checked.ok) return checked.value;
    report(kind, checked.name, checked.message);
    throw new KubeApiError(
      `${what} ${kind.kind} ${checked.name}: it does not match the schema: ${checked.message}`,
    );
  }

  return {
    async list<T>(
      kind: ResourceKind<T>,
      opts: { namespace?: string; labelSelector?: string } = {},
    ): Promise<ListResult<T>> {
      const path = collectionPath(kind, opts.namespace);
      const items: T[] = [];
      let resourceVersion = '';
      let next: string | undefined;
      do {
        const raw = await request('GET', path, {
          query: {
            labelSelector: opts.labelSelector,
            limit: String(LIST_PAGE_SIZE),
            continue: next,
          },
          accept: metadataOnly(kind) ? PARTIAL_METADATA_LIST : 'application/json',
        });
        const page = listPage.safeParse(raw);
        if (!page.success) throw new KubeApiError(`GET ${path}: the answer is not a list`);
        for (const item of page.data.items ?? []) {
          const checked = check(kind, item);
          if (checked.ok) items.push(checked.value);
          else report(kind, checked.name, checked.message, checked.generation, checked.uid);
        }
        resourceVersion = page.data.metadata?.resourceVersion ?? '';
        next = page.data.metadata?.continue || undefined;
      } while (next);
      return { items, resourceVersion };
    },

    async watch<T>(
      kind: ResourceKind<T>,
      opts: { namespace?: string; labelSelector?: string; resourceVersion: string },
      handlers: WatchHandlers<T>,
    ): Promise<WatchHandle> {
      const path = collectionPath(kind, opts.namespace);
      let stopped = false;
      let finished = false;
      // The stream closes its connection itself before it reports the end.
      const finish = (err?: KubeApiError): void => {
        if (stopped || finished) return;
        finished = true;
        handlers.onDone(err);
      };
      let stream: { stop(): void };
      try {
        stream = await api.watch(
          path,
          {
            resourceVersion: opts.resourceVersion,
            allowWatchBookmarks: 'true',
            labelSelector: opts.labelSelector,
            // The server ends the watch after 5-10 min, as client-go does, so a dead connection cannot linger.
            timeoutSeconds: String(300 + Math.floor(Math.random() * 300)),
          },
          (type, object) => {
            if (stopped || finished) return;
            const step = translateWatchEvent(kind, type, object);
            if (step.invalid)
              report(
                kind,
                step.invalid.name,
                step.invalid.message,
                step.invalid.generation,
                step.invalid.uid,
              );
            if (step.event) handlers.onEvent(step.event.type, step.event.object);
            if (step.error) finish(step.error);
          },
          (err) => finish(err),
        );
      } catch (err) {
        // Credentials that could not be loaded.
        throw err instanceof KubeApiError
          ? err
          : new KubeApiError(`watch ${path}: ${messageOf(err)}`);
      }
      return {
        stop: () => {
          stopped = true;
          stream.stop();
        },
      };
    },

    async get<T>(kind: ResourceKind<T>, ref: ObjectRef | { name: string }): Promise<T | undefined> {
      let raw: unknown;
      try {
        raw = await request('GET', objectPath(kind, ref), {
          accept: metadataOnly(kind) ? PARTIAL_METADATA : 'application/json',
        });
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) return undefined;
        throw err;
      }
      return mustCheck(kind, raw, 'read');
    },

    async exists(kind: AnyKind, ref: ObjectRef): Promise<boolean> {
      try {
        // Metadata only, and the answer is dropped: a Secret's data is never sent to us.
        await request('GET', objectPath(kind, ref), { accept: PARTIAL_METADATA });
        return true;
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) return false;
        throw err;
      }
    },

    async create<T>(kind: ResourceKind<T>, object: T): Promise<T> {
      const ref = refOf(kind, object);
      const body = { apiVersion: apiVersionOf(kind), kind: kind.kind, ...(object as Json) };
      const ns = 'namespace' in ref ? ref.namespace : undefined;
      if (kind.namespaced && !ns)
        throw new KubeApiError(`${kind.kind} "${ref.name}" needs metadata.namespace`);
      return mustCheck(kind, await request('POST', collectionPath(kind, ns), { body }), 'created');
    },

    async replace<T>(kind: ResourceKind<T>, object: T): Promise<T> {
      const body = { apiVersion: apiVersionOf(kind), kind: kind.kind, ...(object as Json) };
      return mustCheck(
        kind,
        await request('PUT', objectPath(kind, refOf(kind, object)), { body }),
        'replaced',
      );
    },

    async delete(kind: AnyKind, ref: ObjectRef): Promise<void> {
      try {
        await request('DELETE', objectPath(kind, ref));
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) return;
        throw err;
      }
    },

    async patchStatus(
      kind: AnyKind,
      ref: ObjectRef,
      patch: Record<string, unknown>,
    ): Promise<void> {
      await request('PATCH', `${objectPath(kind, ref)}/status`, {
        body: patch,
        contentType: 'application/merge-patch+json',
      });
    },

    async patch(
      kind: AnyKind,
      ref: ObjectRef | { name: string },
      operations: JsonPatchOperation[],
    ): Promise<void> {
      await request('PATCH', objectPath(kind, ref), {
        body: operations,
        contentType: 'application/json-patch+json',
      });
    },

    async createEvent(event: EventInput): Promise<string> {
      const { involved } = event;
      const now = nowSeconds();
      const host = hostname().slice(0, 128);
      // client-go names events <object>.<unique hex>; the suffix keeps them unique.
      const suffix = `${Date.now().toString(16)}${randomBytes(4).toString('hex')}`;
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: {
          name: `${involved.name.slice(0, 200)}.${suffix}`,
          namespace: involved.namespace,
        },
        involvedObject: {
          apiVersion: involved.apiVersion,
          kind: involved.kind,
          namespace: involved.namespace,
          name: involved.name,
          ...(involved.uid ? { uid: involved.uid } : {}),
        },
        type: event.type,
        reason: event.reason,
        message: event.message.slice(0, 1024),
        source: { component: event.component, host },
        reportingComponent: event.component,
        reportingInstance: host,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      await request('POST', `/api/v1/namespaces/${encodeURIComponent(involved.namespace)}/events`, {
        body,
      });
      return body.metadata.name;
    },

    async repeatEvent(ref: ObjectRef, count: number): Promise<void> {
      const path = `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/events/${encodeURIComponent(ref.name)}`;
      await request('PATCH', path, {
        body: { count, lastTimestamp: nowSeconds() },
        contentType: 'application/merge-patch+json',
      });
    },
  };
}
