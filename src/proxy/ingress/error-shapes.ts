// Anthropic's error answer (the Responses API answers errors exactly as Chat
// Completions does: errors.ts's OPENAI_ERROR_SHAPE). Anthropic's Messages API has its own body
// ({type: "error", error: {type, message}}), its own error types and 529 for
// "overloaded" where the proxy would say 503.
import type { ErrorShape, ProxyError } from '../errors.js';

/** Anthropic's error type for a status (their documented table). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
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
    case 504:
      return 'timeout_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

export const anthropicErrorShape: ErrorShape = {
  status: (err) => (err.status === 503 ? 529 : err.status),
  body: (err: ProxyError) => anthropicErrorBody(err.status, err.body().error.message),
};

export function anthropicErrorBody(
  status: number,
  message: string,
): { type: 'error'; error: { type: string; message: string } } {
  return { type: 'error', error: { type: anthropicErrorType(status), message } };
}
