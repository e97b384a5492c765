// TokenReview (authentication.k8s.io/v1) for a gateway proxy: asks the API
// server whether a bearer token is a valid ServiceAccount token for an
// audience. The proxy's own ServiceAccount needs `create tokenreviews`.
import * as k8s from '@kubernetes/client-node';
import type { TokenReviewStatus, TokenReviewer } from '../identity/token-review.js';
import { loadKubeConfig } from './cluster.js';

/** A reviewer using `kubeconfig` (a file), or the usual places (in-cluster first when running in a pod). */
export function createKubeTokenReviewer(kubeconfig?: string | k8s.KubeConfig): TokenReviewer {
  const kc = typeof kubeconfig === 'object' ? kubeconfig : loadKubeConfig(kubeconfig);
  const api = kc.makeApiClient(k8s.AuthenticationV1Api);
  return {
    async review(token, audiences): Promise<TokenReviewStatus> {
      const answer = await api.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [...audiences] },
        },
      });
      const status = answer.status ?? {};
      return {
        authenticated: status.authenticated === true,
        username: status.user?.username,
        audiences: status.audiences,
      };
    },
  };
}
