// The API server's Status object (error answers, watch ERROR events) as a KubeApiError.
import http from 'node:http';
import { z } from 'zod';
import { KubeApiError } from './types.js';

/** The API server's Status object, as far as we read it. */
const statusObject = z.looseObject({
  kind: z.literal('Status').optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  code: z.number().optional(),
});

/** A failed Status (from an error response or a watch ERROR event) as a KubeApiError. */
export function errorFromStatus(what: string, body: unknown, httpStatus?: number): KubeApiError {
  const status = statusObject.safeParse(body);
  const s = status.success ? status.data : {};
  let code = s.code ?? httpStatus;
  // A watch from a compacted resourceVersion: reason Expired (or Gone), code 410.
  if (code === undefined && (s.reason === 'Expired' || s.reason === 'Gone')) code = 410;
  const text =
    s.message ??
    (code !== undefined ? `HTTP ${code} ${http.STATUS_CODES[code] ?? ''}`.trim() : 'failed');
  return new KubeApiError(`${what}: ${text}`, code, s.reason);
}
