// TokenReview (authentication.k8s.io/v1) for a gateway proxy: asks the API
// server whether a bearer token is a valid ServiceAccount token for an
// audience. The proxy's own ServiceAccount needs `create tokenreviews`.
import type { TokenReviewStatus, TokenReviewer } from '../identity/token-review.js';
import { connectApiServer } from './api-server.js';
import { postTokenReview } from './token-review.js';

/** A reviewer using `kubeconfig` (a file), or the usual places (in-cluster first when running in a pod). */
export function createKubeTokenReviewer(kubeconfig?: string): TokenReviewer {
  const api = connectApiServer({ kubeconfigPath: kubeconfig, userAgent: 'modelroute-proxy' });
  return {
    async review(token, audiences): Promise<TokenReviewStatus> {
      const result = await postTokenReview(api, token, audiences);
      return result.authenticated
        ? { authenticated: true, username: result.username, audiences: result.audiences }
        : { authenticated: false };
    },
  };
}
