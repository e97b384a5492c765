import { RecentRequests } from './recent-requests.js';

const request = (id: string, tenantId = 'default/a') => ({
  requestId: id,
  ruleKey: 'default/chat#learn',
  tenantId,
  tier: 'strong' as const,
  modelVersion: 3,
  features: Float64Array.from({ length: 37 }, (_, i) => i / 4),
});

describe('RecentRequests', () => {
  it('gives one score per request, to its own tenant, within its window', () => {
    const r = new RecentRequests(10);
    r.add(request('one'), 1_000);
    expect(r.claim('one', 'default/b', 500)).toEqual({
      ok: false,
      reason: 'unknown',
      ruleKey: 'default/chat#learn',
    });
    const claim = r.claim('one', 'default/a', 500);
    expect(claim).toMatchObject({ ok: true, tier: 'strong', modelVersion: 3 });
    if (claim.ok) expect(Array.from(claim.features.slice(0, 3))).toEqual([0, 0.25, 0.5]);
    expect(r.claim('one', 'default/a', 600)).toMatchObject({ ok: false, reason: 'repeated' });

    r.add(request('two'), 1_000);
    expect(r.claim('two', 'default/a', 1_001)).toMatchObject({ ok: false, reason: 'expired' });
    expect(r.claim('never', 'default/a', 0)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('holds at most its capacity: the oldest are forgotten first', () => {
    const r = new RecentRequests(3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) r.add(request(id), 1_000);
    expect(r.size).toBe(3);
    expect(r.claim('a', 'default/a', 0)).toMatchObject({ reason: 'unknown' });
    expect(r.claim('b', 'default/a', 0)).toMatchObject({ reason: 'unknown' });
    expect(r.claim('e', 'default/a', 0)).toMatchObject({ ok: true });
  });

  it('forgets a request that failed, without disturbing the slot’s next owner', () => {
    const r = new RecentRequests(1);
    r.add(request('failed'), 1_000);
    r.forget('failed');
    expect(r.claim('failed', 'default/a', 0)).toMatchObject({ reason: 'unknown' });
    r.add(request('next'), 1_000);
    r.forget('failed'); // already gone: nothing happens to 'next'
    expect(r.claim('next', 'default/a', 0)).toMatchObject({ ok: true });
  });
});
