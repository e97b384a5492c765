// Kubernetes Events, correlated the way client-go's EventCorrelator does it,
// in small: an Event that repeats (same object, type, reason and message)
// within the window bumps the count of the one already written instead of
// adding another; more than `maxSimilar` different messages for the same
// object, type and reason are folded into one "(combined from similar
// events)" Event. Issue 11 class 12: every takeover wrote one Event per
// backend, and a flapping backend one per flap, none ever aggregated.
import { KubeApiError, type EventInput, type KubeClient } from '../k8s/types.js';
import type { Logger } from '../telemetry/logger.js';

export interface EventRecorderOptions {
  client: KubeClient;
  component: string;
  logger: Logger;
  now: () => number;
  /** How long a written Event is counted on rather than written again (client-go: 10 min). */
  windowMs?: number;
  /** Different messages per object and reason before they are combined (client-go: 10). */
  maxSimilar?: number;
  /** Remembered Events; the oldest is forgotten beyond this. */
  maxKeys?: number;
}

interface Written {
  namespace: string;
  name: string;
  count: number;
  at: number;
}

export type EventToRecord = Omit<EventInput, 'component'>;

export const COMBINED_PREFIX = '(combined from similar events): ';

export class EventRecorder {
  private readonly written = new Map<string, Promise<Written | undefined>>();
  private readonly similar = new Map<string, { messages: Set<string>; since: number }>();
  private readonly windowMs: number;
  private readonly maxSimilar: number;
  private readonly maxKeys: number;

  constructor(private readonly options: EventRecorderOptions) {
    this.windowMs = options.windowMs ?? 600_000;
    this.maxSimilar = options.maxSimilar ?? 10;
    this.maxKeys = options.maxKeys ?? 4096;
  }

  /** Writes or counts the Event; never throws (a failure is logged). */
  record(event: EventToRecord): Promise<void> {
    const { involved } = event;
    const similarKey = [involved.namespace, involved.kind, involved.name, event.type, event.reason]
      .map((p) => p.replaceAll('\u0000', ''))
      .join('\u0000');
    // Past the limit, one combined Event per object and reason counts them all.
    const combined = this.aggregate(similarKey, event.message);
    const message = combined ? `${COMBINED_PREFIX}${event.message}` : event.message;
    const key = `${similarKey}\u0000${combined ? COMBINED_PREFIX : message}`;
    const previous = this.written.get(key) ?? Promise.resolve(undefined);
    const next = previous.then((last) => this.write(last, { ...event, message }));
    this.written.delete(key); // re-insert: the map's order is least recently used first
    this.written.set(key, next);
    this.bound(this.written);
    return next.then(() => undefined);
  }

  /** Whether this object and reason had more than maxSimilar different messages in the window. */
  private aggregate(similarKey: string, message: string): boolean {
    const now = this.options.now();
    let seen = this.similar.get(similarKey);
    if (!seen || now - seen.since > this.windowMs) {
      seen = { messages: new Set(), since: now };
      this.similar.delete(similarKey);
      this.similar.set(similarKey, seen);
      this.bound(this.similar);
    }
    seen.messages.add(message);
    return seen.messages.size > this.maxSimilar;
  }

  private async write(
    last: Written | undefined,
    event: EventToRecord,
  ): Promise<Written | undefined> {
    const { client, component, logger } = this.options;
    const now = this.options.now();
    try {
      if (last && now - last.at <= this.windowMs) {
        try {
          await client.repeatEvent({ namespace: last.namespace, name: last.name }, last.count + 1);
          return { ...last, count: last.count + 1, at: now };
        } catch (err) {
          // Events expire (an hour by default): write a new one.
          if (!(err instanceof KubeApiError && err.status === 404)) throw err;
        }
      }
      const name = await client.createEvent({ ...event, component });
      return { namespace: event.involved.namespace, name, count: 1, at: now };
    } catch (err) {
      logger.warn('cannot record event', {
        object: `${event.involved.kind} ${event.involved.namespace}/${event.involved.name}`,
        reason: event.reason,
        error: err,
      });
      return last;
    }
  }

  private bound(map: Map<string, unknown>): void {
    while (map.size > this.maxKeys) map.delete(map.keys().next().value as string);
  }
}
