import type { IncomingMessage } from 'node:http';
import { acceptsTrailers, costComment } from './stream-response.js';

const req = (major: number, minor: number) =>
  ({ httpVersionMajor: major, httpVersionMinor: minor }) as IncomingMessage;

test('only chunked-capable clients get the cost as a trailer', () => {
  expect(acceptsTrailers(req(1, 1))).toBe(true);
  expect(acceptsTrailers(req(1, 0))).toBe(false);
  expect(acceptsTrailers(req(0, 9))).toBe(false);
});

test('the cost comment is an SSE comment, skipped by every SSE parser', () => {
  const comment = costComment(0.000123);
  expect(comment).toBe(': x-modelroute-cost-usd=0.00012300\n\n');
  expect(comment.startsWith(':')).toBe(true);
});
