// TokenReview (authentication.k8s.io/v1): asks the API server whether a
// bearer token is valid for an audience and whom it names. The only caller
// today is the controller's credential endpoint; the result is our own type,
// so tests fake the reviewer without an API server.
import * as k8s from '@kubernetes/client-node';

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

export function createTokenReviewer(options: {
  kubeconfigPath?: string | undefined;
}): TokenReviewer {
  const kc = new k8s.KubeConfig();
  if (options.kubeconfigPath) kc.loadFromFile(options.kubeconfigPath);
  else kc.loadFromDefault();
  const api = kc.makeApiClient(k8s.AuthenticationV1Api);
  return {
    async review(token, audiences) {
      let answer: k8s.V1TokenReview;
      try {
        answer = await api.createTokenReview({
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            spec: { token, audiences: [...audiences] },
          },
        });
      } catch (err) {
        // Only the status: a response body could hold the reviewed object, token included.
        const code = (err as { code?: unknown }).code;
        throw new Error(
          code === 401 || code === 403
            ? `TokenReview refused (HTTP ${code}): the controller's ServiceAccount needs "create" on tokenreviews.authentication.k8s.io (the chart's token-reviewer ClusterRole)`
            : `TokenReview failed${typeof code === 'number' ? ` (HTTP ${code})` : ': the API server did not answer'}`,
        );
      }
      const status = answer.status;
      if (!status?.authenticated || !status.user?.username) return { authenticated: false };
      return {
        authenticated: true,
        username: status.user.username,
        extra: status.user.extra ?? {},
        audiences: status.audiences ?? [],
      };
    },
  };
}
