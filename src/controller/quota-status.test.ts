import { describe, expect, test } from '@jest/globals';
import type { FleetLimitStatus } from '../api/v1alpha1/quota.js';
import { backend } from '../routing/__fixtures__/objects.js';
import { backendLimitStatusListener, limitStatusLag } from './quota-status.js';

const counted: FleetLimitStatus = {
  proxies: 2,
  requestsLastMinute: 40,
  tokensLastMinute: 0,
  refusedLastMinute: 3,
};

describe('ModelBackend status.limits', () => {
  test('a change in proxies (or limits appearing or going) is due now; counters alone are not', () => {
    expect(limitStatusLag(undefined, counted)).toBe('now');
    expect(limitStatusLag(counted, undefined)).toBe('now');
    expect(limitStatusLag({ ...counted, proxies: 3 }, counted)).toBe('now');
    expect(limitStatusLag({ ...counted, requestsLastMinute: 12 }, counted)).toBe('counters');
    expect(limitStatusLag(counted, { ...counted })).toBeUndefined();
    expect(limitStatusLag(undefined, undefined)).toBeUndefined();
  });

  test('namespaces whose counters moved are reconciled at most once a minute', () => {
    let now = 0;
    const enqueued: string[] = [];
    const b = backend('gpt', { limits: { rpm: 600 } }, 'team');
    b.status = { conditions: [], limits: { ...counted, requestsLastMinute: 1 } };
    let status: FleetLimitStatus = counted;
    const listener = backendLimitStatusListener({
      backends: () => [b],
      limitStatus: (key) => (key === 'backend:team/gpt' ? status : undefined),
      enqueue: (ns) => enqueued.push(ns),
      now: () => now,
    });
    const collection = { stats: new Map(), pods: [] };
    listener(collection);
    now += 2_000;
    listener(collection);
    expect(enqueued).toEqual(['team']);
    now += 60_000;
    listener(collection);
    expect(enqueued).toEqual(['team', 'team']);
    // A proxy more: at once.
    status = { ...counted, proxies: 3 };
    now += 2_000;
    listener(collection);
    expect(enqueued).toEqual(['team', 'team', 'team']);
  });
});
