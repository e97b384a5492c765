// TokenReview (authentication.k8s.io/v1): asks the API server whether a
// bearer token is valid for an audience and whom it names. A raw POST through
// api-server.ts (no Kubernetes client library), the answer checked with zod.
// Callers: the controller's credential endpoint (createTokenReviewer) and a
// gateway proxy's identity (token-reviewer.ts). The result is our own type,
// so tests fake the reviewer without an API server.
import { z } from 'zod';
import { connectApiServer, type ApiServer } from './api-server.js';
import { KubeApiError } from './types.js';

export type TokenReviewResult =
  | {
      authenticated: true;
      username: string;
      /** e.g. authentication.kubernetes.io/pod-name for a token bound to a Pod. */
      extra: Readonly<Record<string, readonly string[]>>;
      /** The audiences the API server says the token is valid for. */
      audiences: readonly string[];
    }
  | { authenticated: false };

export interface TokenReviewer {
  /** Never logs or echoes the token; throws only when the API server could not be asked. */
  review(token: string, audiences: readonly string[]): Promise<TokenReviewResult>;
}

const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';

/** The answer, as far as we read it. */
const tokenReviewAnswer = z.looseObject({
  status: z
    .looseObject({
      authenticated: z.boolean().optional(),
      user: z
        .looseObject({
          username: z.string().optional(),
          extra: z.record(z.string(), z.array(z.string())).optional(),
        })
        .optional(),
      audiences: z.array(z.string()).optional(),
    })
    .optional(),
});

/**
 * One TokenReview. Errors carry only the HTTP status: an answer's body could
 * hold the reviewed object, token included.
 */
export async function postTokenReview(
  api: Pick<ApiServer, 'request'>,
  token: string,
  audiences: readonly string[],
): Promise<TokenReviewResult> {
  let raw: unknown;
  try {
    raw = await api.request('POST', TOKEN_REVIEWS, {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, audiences: [...audiences] },
      },
    });
  } catch (err) {
    const code = err instanceof KubeApiError ? err.status : undefined;
    throw new Error(
      code === 401 || code === 403
        ? `TokenReview refused (HTTP ${code}): the ServiceAccount needs "create" on tokenreviews.authentication.k8s.io (the chart's token-reviewer ClusterRole)`
        : `TokenReview failed${code !== undefined ? ` (HTTP ${code})` : ': the API server did not answer'}`,
    );
  }
  const answer = tokenReviewAnswer.safeParse(raw);
  if (!answer.success) throw new Error('TokenReview failed: the answer is not a TokenReview');
  const status = answer.data.status;
  if (!status?.authenticated || !status.user?.username) return { authenticated: false };
  return {
    authenticated: true,
    username: status.user.username,
    extra: status.user.extra ?? {},
    audiences: status.audiences ?? [],
  };
}

export function createTokenReviewer(options: {
  kubeconfigPath?: string | undefined;
}): TokenReviewer {
  const api = connectApiServer({
    kubeconfigPath: options.kubeconfigPath,
    userAgent: 'modelroute-controller',
  });
  return { review: (token, audiences) => postTokenReview(api, token, audiences) };
}
