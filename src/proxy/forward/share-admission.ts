// Fleet-mode backend limits per attempt (issue 14): routing asks whether a
// backend's share has room for one more request without knowing its tokens,
// so a proxy whose tpm share had 1 token left would still send a 200-token
// request, and every proxy could pass its share by up to a request's tokens
// (bench quotas: 125,600 tokens in a minute against 120,000 + the 2,400
// over-commit). Here the attempt is checked with its estimate before it is
// counted; a refusal says nothing about the backend's health: the attempt
// ends as `not-usable` (capacity_shed) and the next one is tried.
import type { CompiledBackend } from '../../routing/table.js';
import type { ProxyRuntime } from '../runtime.js';
import type { Failure } from './failure.js';

/** The failure that refuses the attempt, or undefined when this proxy's share admits it. */
export function refusedByShare(
  runtime: ProxyRuntime,
  backend: CompiledBackend,
  estimatedTokens: number,
): Failure | undefined {
  if (runtime.live.shareAdmits(backend.id, estimatedTokens)) return undefined;
  runtime.live.refused(backend.id);
  return {
    kind: 'not-usable',
    backendId: backend.id,
    message: `${backend.id} is at this proxy's share of its fleet limit for a request of about ${Math.round(estimatedTokens)} tokens`,
    retryAfterMs: 1000,
    code: 'capacity_shed',
  };
}
