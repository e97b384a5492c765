// How calls to the Bedrock runtime carry their credential: SigV4 with AWS
// credentials, or a Bedrock API key as a Bearer token (no signature).
import { signRequest } from '../shared/sigv4.js';
import type { UpstreamAuth } from '../types.js';

/** The SigV4 signing name of the Bedrock runtime (bedrock-runtime.<region>.amazonaws.com). */
export const BEDROCK_SIGNING_NAME = 'bedrock';

interface Unsigned {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | undefined;
}

/** The request's headers with the credential added; unchanged without one. */
export async function bedrockHeaders(
  request: Unsigned,
  auth: UpstreamAuth | undefined,
): Promise<Record<string, string>> {
  if (auth === undefined) return request.headers;
  if (auth.kind === 'api-key') return { ...request.headers, authorization: `Bearer ${auth.key}` };
  if (auth.kind === 'bearer') return { ...request.headers, authorization: `Bearer ${auth.token}` };
  const { headers } = await signRequest(request, {
    credentials: auth.credentials,
    region: auth.region,
    service: BEDROCK_SIGNING_NAME,
  });
  return headers;
}

/** The runtime's URL of one model operation; the model id (it may hold `:`, e.g. `...-v1:0`) is percent-encoded. */
export function modelUrl(baseUrl: string, modelId: string, operation: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/model/${encodeURIComponent(modelId)}/${operation}`;
}

/** The free, authenticated read used as the `models` probe: CountTokens (no inference, no charge). */
export function countTokensBody(): string {
  return JSON.stringify({
    input: { converse: { messages: [{ role: 'user', content: [{ text: 'ping' }] }] } },
  });
}
