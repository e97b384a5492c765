// Error bodies in each dialect's own shape, so clients and the proxy parse them as they would the real API.
import type { ServerResponse } from 'node:http';
import type { Dialect, Problem } from './types.js';
import { sendJson } from './respond.js';

function openAIType(status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function openAICode(status: number): string | null {
  switch (status) {
    case 401:
      return 'invalid_api_key';
    case 429:
      return 'rate_limit_exceeded';
    default:
      return null;
  }
}

function anthropicType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return 'api_error';
  }
}

/** google.rpc.Code names of the HTTP statuses Google APIs answer with. */
function googleStatus(status: number): string {
  switch (status) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 499:
      return 'CANCELLED';
    case 501:
      return 'UNIMPLEMENTED';
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
    default:
      return status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION';
  }
}

/** Bedrock's x-amzn-errortype for a status, unless the problem names one. */
function bedrockType(status: number): string {
  switch (status) {
    case 400:
      return 'ValidationException';
    case 403:
      return 'AccessDeniedException';
    case 404:
      return 'ResourceNotFoundException';
    case 429:
      return 'ThrottlingException';
    case 503:
      return 'ServiceUnavailableException';
    default:
      return 'InternalServerException';
  }
}

export function errorBody(dialect: Dialect, problem: Problem): string {
  if (dialect === 'vertex') {
    return JSON.stringify({
      error: {
        code: problem.status,
        message: problem.message,
        status: googleStatus(problem.status),
      },
    });
  }
  // Bedrock (AWS JSON errors): {"message"}, the type in the x-amzn-errortype header.
  if (dialect === 'bedrock') return JSON.stringify({ message: problem.message });
  if (dialect === 'anthropic' || dialect === 'anthropic-vertex') {
    return JSON.stringify({
      type: 'error',
      error: { type: anthropicType(problem.status), message: problem.message },
    });
  }
  return JSON.stringify({
    error: {
      message: problem.message,
      type: openAIType(problem.status),
      param: problem.param ?? null,
      code: problem.code ?? openAICode(problem.status),
    },
  });
}

export function sendError(
  res: ServerResponse,
  dialect: Dialect,
  problem: Problem,
  retryAfterSeconds?: number,
): void {
  const retry =
    retryAfterSeconds !== undefined && (problem.status === 429 || problem.status === 503)
      ? { 'retry-after': String(retryAfterSeconds) }
      : undefined;
  const amzn =
    dialect === 'bedrock'
      ? { 'x-amzn-errortype': problem.code ?? bedrockType(problem.status) }
      : undefined;
  sendJson(res, problem.status, errorBody(dialect, problem), { ...retry, ...amzn });
}

/** The 401 each dialect answers when its key header is missing or wrong; `echo` repeats the key presented. */
export function unauthorized(dialect: Dialect, echo?: string): Problem {
  const problem = unauthorizedProblem(dialect);
  return echo === undefined
    ? problem
    : { ...problem, message: `${problem.message} Key presented: ${echo}` };
}

function unauthorizedProblem(dialect: Dialect): Problem {
  switch (dialect) {
    case 'anthropic':
      return { status: 401, message: 'invalid x-api-key' };
    case 'azure':
      return {
        status: 401,
        message:
          'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        code: '401',
      };
    default:
      return {
        status: 401,
        message: 'Incorrect API key provided.',
        code: 'invalid_api_key',
      };
  }
}
