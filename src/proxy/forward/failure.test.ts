import { compileRoutingTable } from '../../routing/compile.js';
import { OUTCOME_AUTH_REFUSED, OUTCOME_ENDPOINT_NOT_FOUND } from '../../health/passive.js';
import { backend, route } from '../../routing/__fixtures__/objects.js';
import {
  classifyStatus,
  exhaustedError,
  isRetryable,
  outcomeOf,
  rulesOutBackend,
  type Failure,
} from './failure.js';

const compiled = compileRoutingTable(
  [route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] })],
  [backend('a')],
).routes[0]!;

describe('classifyStatus: whose fault an upstream status is', () => {
  test.each([
    [400, 'client-error'],
    [409, 'client-error'],
    [413, 'client-error'],
    [415, 'client-error'],
    [422, 'client-error'],
    // The proxy formed the URL, model and credential: these are the backend's.
    [401, 'backend-rejected'],
    [403, 'backend-rejected'],
    [404, 'backend-rejected'],
    [405, 'backend-rejected'],
    [410, 'backend-rejected'],
    [302, 'backend-rejected'],
    [408, 'timeout'],
    [504, 'timeout'],
    [429, 'rate-limited'],
    [500, 'server-error'],
    [502, 'server-error'],
    [503, 'server-error'],
  ])('%i → %s', (status, kind) => {
    expect(classifyStatus(status)).toBe(kind);
  });

  test('every status from 300 to 599 has a kind, and only client faults escape health', () => {
    for (let status = 300; status < 600; status++) {
      const outcome = outcomeOf(classifyStatus(status), status);
      expect(outcome).toBeDefined();
      if (outcome === 'client-error') expect([400, 409, 413, 415, 422]).toContain(status);
    }
  });
});

test('refusals are recorded by cause, under the names the controller reads', () => {
  expect(outcomeOf('backend-rejected', 401)).toBe(OUTCOME_AUTH_REFUSED);
  expect(outcomeOf('backend-rejected', 403)).toBe(OUTCOME_AUTH_REFUSED);
  expect(outcomeOf('backend-rejected', 404)).toBe(OUTCOME_ENDPOINT_NOT_FOUND);
  expect(outcomeOf('backend-rejected', 410)).toBe(OUTCOME_ENDPOINT_NOT_FOUND);
  expect(outcomeOf('backend-rejected', 302)).toBe('backend-rejected');
  expect(outcomeOf('backend-rejected')).toBe('backend-rejected');
});

describe('what follows a failure', () => {
  const f = (kind: Failure['kind'], extra: Partial<Failure> = {}): Failure => ({
    kind,
    backendId: 'default/a',
    message: 'm',
    ...extra,
  });

  test('a refusing backend is failed over, never retried itself', () => {
    expect(isRetryable(f('backend-rejected'), compiled)).toBe(true);
    expect(rulesOutBackend(f('backend-rejected'))).toBe(true);
  });

  test('a client that left or stalled ends the request, recorded as a client error', () => {
    expect(isRetryable(f('client-gone'), compiled)).toBe(false);
    expect(outcomeOf('client-gone')).toBe('client-error');
  });

  test('all refused: 502 naming the upstream credential, not the client’s 401', () => {
    const err = exhaustedError(compiled, [f('backend-rejected', { status: 401, code: undefined })]);
    expect(err.status).toBe(502);
    expect(err.body().error).toMatchObject({
      type: 'upstream_error',
      code: 'upstream_credential_refused',
    });
    const missing = exhaustedError(compiled, [
      f('backend-rejected', { code: 'upstream_credential_missing' }),
    ]);
    expect(missing.body().error.code).toBe('upstream_credential_missing');
    const notFound = exhaustedError(compiled, [f('backend-rejected', { status: 404 })]);
    expect(notFound.body().error.code).toBe('upstream_misconfigured');
  });

  test('a client error is passed on with its status', () => {
    const err = exhaustedError(compiled, [f('client-error', { status: 422 })]);
    expect(err.status).toBe(422);
    expect(err.type).toBe('invalid_request_error');
  });
});
