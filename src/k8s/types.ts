// The small Kubernetes API surface the controller uses, as our own types: the
// controller and its tests talk to this interface, and only src/k8s imports
// the client library. Every object crossing it is validated with zod.
import type { z } from 'zod';

export interface ObjectRef {
  namespace: string;
  name: string;
}

/** A resource type the controller lists, watches or writes. */
export interface ResourceKind<T> {
  group: string; // '' for the core group
  version: string;
  /** Lower-case plural used in URLs, e.g. modelroutes, pods, leases. */
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Validates each object read from the API server. */
  schema: z.ZodType<T>;
  /**
   * Secrets are read as metadata only unless a kind says otherwise: only the
   * webhook's own serving-certificate Secret is ever read with its data.
   */
  readsSecretData?: true;
}

/** The metadata every object has, as far as the controller reads it. */
export interface ObjectMetaLike {
  metadata: {
    name: string;
    namespace?: string | undefined;
    resourceVersion?: string | undefined;
    generation?: number | undefined;
    uid?: string | undefined;
    labels?: Record<string, string> | undefined;
    annotations?: Record<string, string> | undefined;
    creationTimestamp?: string | undefined;
    deletionTimestamp?: string | undefined;
  };
}

export interface ListResult<T> {
  items: T[];
  /** The collection's resourceVersion, to start a watch from. */
  resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchHandlers<T> {
  onEvent(type: WatchEventType, object: T): void;
  /**
   * The watch ended. `err.status === 410` (Gone) means the resourceVersion is
   * too old: relist. No error means the server closed it normally: rewatch.
   */
  onDone(err?: KubeApiError): void;
}

export interface WatchHandle {
  stop(): void;
}

/** An error from the API server, with its HTTP status when there was one. */
export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** The API server's reason, e.g. Conflict, NotFound, Forbidden. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface EventInput {
  /** The object the event is about. */
  involved: {
    kind: string;
    apiVersion: string;
    namespace: string;
    name: string;
    uid?: string | undefined;
  };
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. BackendUnhealthy. */
  reason: string;
  message: string;
  /** Who reports it, e.g. modelroute-controller. */
  component: string;
}

export interface KubeClient {
  list<T>(
    kind: ResourceKind<T>,
    options?: { namespace?: string; labelSelector?: string },
  ): Promise<ListResult<T>>;
  watch<T>(
    kind: ResourceKind<T>,
    options: { namespace?: string; labelSelector?: string; resourceVersion: string },
    handlers: WatchHandlers<T>,
  ): Promise<WatchHandle>;
  /** undefined when the object does not exist. */
  get<T>(kind: ResourceKind<T>, ref: ObjectRef | { name: string }): Promise<T | undefined>;
  /** Whether an object exists, without returning its content (used for Secrets). */
  exists(kind: ResourceKind<unknown>, ref: ObjectRef): Promise<boolean>;
  create<T>(kind: ResourceKind<T>, object: T): Promise<T>;
  /** Replaces an object; fails with status 409 if its resourceVersion is stale. */
  replace<T>(kind: ResourceKind<T>, object: T): Promise<T>;
  /** JSON merge patch (application/merge-patch+json) on the status subresource. */
  patchStatus(
    kind: ResourceKind<unknown>,
    ref: ObjectRef,
    patch: Record<string, unknown>,
  ): Promise<void>;
  /** Creates a core/v1 Event; resolves with its name (to count repeats on it). */
  createEvent(event: EventInput): Promise<string>;
  /** Counts a repeat of an Event this client created: sets count and lastTimestamp. */
  repeatEvent(ref: ObjectRef, count: number): Promise<void>;
}

/** One RFC 6902 JSON Patch operation. */
export type JsonPatchOperation =
  { op: 'add' | 'replace' | 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

/**
 * JSON Patch on an object someone else owns (e.g. the Helm chart's webhook
 * configuration): only the named fields change, and `test` operations make the
 * patch fail with 422 rather than edit an object that moved underneath us.
 */
export interface KubePatcher {
  patch(
    kind: ResourceKind<unknown>,
    ref: ObjectRef | { name: string },
    operations: JsonPatchOperation[],
  ): Promise<void>;
}

/** Deletes objects the caller created (the usage ledger's expired days); one already gone is not an error. */
export interface KubeDeleter {
  delete(kind: ResourceKind<unknown>, ref: ObjectRef): Promise<void>;
}
