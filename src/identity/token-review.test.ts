import {
  NEGATIVE_TTL_MS,
  TokenVerifier,
  serviceAccountOfUsername,
  tokenExpiryMs,
  type TokenReviewStatus,
  type TokenReviewer,
} from './token-review.js';

/** A JWT-shaped token (unsigned: the fake reviewer decides what is valid). */
function jwt(claims: Record<string, unknown>, tag = 'sig'): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.${tag}`;
}

/** Answers from a table of token → status, counting calls; anything else is not authenticated. */
function fakeReviewer(answers: Record<string, TokenReviewStatus | Error>): TokenReviewer & {
  calls: { token: string; audiences: readonly string[] }[];
} {
  const calls: { token: string; audiences: readonly string[] }[] = [];
  return {
    calls,
    review(token, audiences) {
      calls.push({ token, audiences });
      const answer = answers[token];
      if (answer instanceof Error) return Promise.reject(answer);
      return Promise.resolve(answer ?? { authenticated: false });
    },
  };
}

const sa = (ns: string, name: string, audiences = ['modelroute']): TokenReviewStatus => ({
  authenticated: true,
  username: `system:serviceaccount:${ns}:${name}`,
  audiences,
});

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('a valid token is reviewed once with the audience, then served from the cache until the TTL', async () => {
  const c = clock();
  const token = jwt({ sub: 'x' });
  const reviewer = fakeReviewer({ [token]: sa('team-a', 'billing') });
  const v = new TokenVerifier({ reviewer, now: c.now, ttlMs: 30_000 });
  expect(await v.verify(token)).toEqual({ ok: true, namespace: 'team-a', name: 'billing' });
  c.advance(29_999);
  expect(await v.verify(token)).toMatchObject({ ok: true });
  expect(reviewer.calls).toEqual([{ token, audiences: ['modelroute'] }]);
  c.advance(1);
  await v.verify(token);
  expect(reviewer.calls).toHaveLength(2);
});

test("a positive verdict never outlives the token's own exp, and an expired token is refused without a review", async () => {
  const c = clock(1_700_000_000_000);
  const token = jwt({ exp: 1_700_000_005 }); // 5 s from now
  const reviewer = fakeReviewer({ [token]: sa('team-a', 'billing') });
  const v = new TokenVerifier({ reviewer, now: c.now, ttlMs: 60_000 });
  expect(await v.verify(token)).toMatchObject({ ok: true });
  c.advance(5_000);
  expect(await v.verify(token)).toMatchObject({ ok: false, reason: 'invalid' });
  expect(reviewer.calls).toHaveLength(1);
});

test('refusals are cached for 10 s: a forged token cannot make every request call the API server', async () => {
  const c = clock();
  const reviewer = fakeReviewer({});
  const v = new TokenVerifier({ reviewer, now: c.now });
  for (let i = 0; i < 50; i++) expect(await v.verify('forged')).toMatchObject({ ok: false });
  expect(reviewer.calls).toHaveLength(1);
  c.advance(NEGATIVE_TTL_MS);
  await v.verify('forged');
  expect(reviewer.calls).toHaveLength(2);
});

test.each<[string, TokenReviewStatus]>([
  ['not authenticated', { authenticated: false }],
  [
    'authenticated for another audience',
    sa('team-a', 'billing', ['https://kubernetes.default.svc']),
  ],
  ['authenticated by an audience-unaware authenticator', { ...sa('a', 'b'), audiences: undefined }],
  [
    'a user, not a ServiceAccount',
    { authenticated: true, username: 'alice', audiences: ['modelroute'] },
  ],
  ['a node', { authenticated: true, username: 'system:node:n1', audiences: ['modelroute'] }],
])('%s: 401, with a message that tells how to get a good token', async (_name, status) => {
  const v = new TokenVerifier({ reviewer: fakeReviewer({ t: status }), now: () => 0 });
  expect(await v.verify('t')).toEqual({
    ok: false,
    reason: 'invalid',
    message: expect.stringContaining('kubectl create token SA --audience modelroute') as string,
  });
});

test('an API server that cannot answer is "unavailable" (503), not cached, and the operator is told why without the token', async () => {
  const token = 'a-token-the-error-quotes';
  const reviewer = fakeReviewer({ [token]: new Error(`forbidden: review of ${token}`) });
  const reasons: string[] = [];
  const c = clock();
  const v = new TokenVerifier({ reviewer, now: c.now, onReviewFailed: (r) => reasons.push(r) });
  const verdict = await v.verify(token);
  expect(verdict).toMatchObject({ ok: false, reason: 'unavailable' });
  expect(JSON.stringify(verdict)).not.toContain('forbidden');
  await v.verify(token);
  expect(reviewer.calls).toHaveLength(2);
  // Reported once per 10 s, not once per request.
  expect(reasons).toEqual(['forbidden: review of [REDACTED]']);
  c.advance(NEGATIVE_TTL_MS);
  await v.verify(token);
  expect(reasons).toHaveLength(2);
});

test('concurrent requests with one new token share one review', async () => {
  const reviewer = fakeReviewer({ t: sa('a', 'b') });
  const v = new TokenVerifier({ reviewer, now: () => 0 });
  const verdicts = await Promise.all(Array.from({ length: 20 }, () => v.verify('t')));
  expect(verdicts.every((x) => x.ok)).toBe(true);
  expect(reviewer.calls).toHaveLength(1);
});

test('the cache is bounded: the oldest entries go first', async () => {
  const reviewer = fakeReviewer({});
  const v = new TokenVerifier({ reviewer, now: () => 0, maxEntries: 3 });
  for (const t of ['t1', 't2', 't3', 't4', 't5']) await v.verify(t);
  expect(v.size).toBe(3);
  await v.verify('t5');
  expect(reviewer.calls).toHaveLength(5);
  await v.verify('t1');
  expect(reviewer.calls).toHaveLength(6);
});

test('the TTL is capped at 10 minutes, and a custom audience is the one asked for', async () => {
  const c = clock();
  const reviewer = fakeReviewer({ t: sa('a', 'b', ['llm']) });
  const v = new TokenVerifier({ reviewer, now: c.now, ttlMs: 3_600_000, audience: 'llm' });
  await v.verify('t');
  c.advance(10 * 60_000);
  await v.verify('t');
  expect(reviewer.calls).toEqual([
    { token: 't', audiences: ['llm'] },
    { token: 't', audiences: ['llm'] },
  ]);
});

test('usernames and token expiry are read defensively', () => {
  expect(serviceAccountOfUsername('system:serviceaccount:team-a:billing')).toEqual({
    namespace: 'team-a',
    name: 'billing',
  });
  expect(serviceAccountOfUsername('system:serviceaccount:team-a')).toBeUndefined();
  expect(serviceAccountOfUsername(undefined)).toBeUndefined();
  expect(tokenExpiryMs(jwt({ exp: 10 }))).toBe(10_000);
  expect(tokenExpiryMs('not-a-jwt')).toBeUndefined();
  expect(tokenExpiryMs('a.%%%.c')).toBeUndefined();
  expect(tokenExpiryMs(jwt({ exp: 'soon' }))).toBeUndefined();
});
