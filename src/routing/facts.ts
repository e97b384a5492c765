// What the routing core knows about one request. Expensive facts (token count,
// difficulty) are functions: the core calls them only when a rule or backend
// needs them, and the caller memoises them so each is computed at most once.
import type { CompiledRule } from './table.js';

/**
 * Headers clients may set to steer routing. The proxy honours one only when the
 * caller's tenant trusts it (ModelTenant spec.trustedHeaders); otherwise the
 * tenant's own attributes decide.
 */
export const ROUTING_HEADERS = {
  tenant: 'x-modelroute-tenant',
  priority: 'x-modelroute-priority',
  task: 'x-modelroute-task',
  compliance: 'x-modelroute-compliance',
  capabilities: 'x-modelroute-capabilities',
} as const;

/** What routing knows about who is asking, whatever it was learnt from. */
export interface RequestClaims {
  tenant?: string | undefined;
  priority?: string | undefined;
  task?: string | undefined;
  compliance: readonly string[];
  /** Capabilities asked for explicitly (those the body implies are added by requestFacts). */
  capabilities: readonly string[];
}

export interface RequestFacts {
  /** The `model` field of the request. */
  model: string;
  /** Header value by lower-case name. */
  header(name: string): string | undefined;
  tenant?: string | undefined;
  priority?: string | undefined;
  task?: string | undefined;
  /** Compliance tags the request requires; every backend used must carry all of them. */
  compliance: readonly string[];
  /** Capabilities the request needs (vision for images, tools for tool calls, ...). */
  capabilities: readonly string[];
  /** Prompt size in tokens. */
  promptTokens(): number;
  /** A cheap upper bound on promptTokens(), if known; lets routing skip counting when a prompt plainly fits. */
  promptTokensAtMost?: number | undefined;
  /**
   * Tokens that must fit in one context window, when that is not the whole
   * prompt: an embeddings batch is embedded input by input, so only its
   * largest input must fit (64 inputs of 2,500 tokens fit an 8k model).
   * Unset: the whole prompt must fit.
   */
  contextTokens?: (() => number) | undefined;
  /** A cheap upper bound on contextTokens(), if known. */
  contextTokensAtMost?: number | undefined;
  /** Difficulty score of the prompt, 0 (easy) to 1 (hard). */
  difficulty(): number;
  /**
   * The difficulty a cost-quality rule that learns (issue 17) orders by: its
   * own pushed model's score, or the proxy's on features it keeps for the
   * rule's labels. Absent: such rules use difficulty() like the others.
   * Matches (matches.difficulty) always use difficulty().
   */
  learnedDifficulty?: ((rule: CompiledRule) => number) | undefined;
  /** Output tokens the client asked for at most (max_tokens), if it said. */
  maxOutputTokens?: number | undefined;
  /** When the request arrived (epoch ms, the proxy's injected clock): matches.timeWindows. */
  nowMs?: number | undefined;
  /**
   * The caller's tenant or the route has a budget exceeded with onExceeded:
   * downgrade (matches.budgetExceeded). Set by the proxy from its quota state.
   */
  budgetExceeded?: boolean | undefined;
}

/** Splits a comma-separated header value into trimmed, non-empty, lower-case items. */
export function headerList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
}

/** Caches the result of a computation on first use. */
export function memo<T>(compute: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value;
  };
}

interface LazyFacts {
  model: string;
  /** Capabilities the request body implies (e.g. vision when it carries images). */
  impliedCapabilities?: readonly string[];
  promptTokens: () => number;
  promptTokensAtMost?: number | undefined;
  contextTokens?: (() => number) | undefined;
  contextTokensAtMost?: number | undefined;
  difficulty: () => number;
  learnedDifficulty?: ((rule: CompiledRule) => number) | undefined;
  maxOutputTokens?: number | undefined;
}

export interface RequestFactsInput extends LazyFacts {
  /** Header value by lower-case name, as rules' header matches may see it. */
  header: (name: string) => string | undefined;
  claims: RequestClaims;
}

/** Builds RequestFacts from verified claims; memoises the lazy facts. */
export function requestFacts(input: RequestFactsInput): RequestFacts {
  const { claims } = input;
  return {
    model: input.model,
    header: input.header,
    tenant: claims.tenant,
    priority: claims.priority,
    task: claims.task,
    compliance: claims.compliance,
    capabilities: [...new Set([...(input.impliedCapabilities ?? []), ...claims.capabilities])],
    promptTokens: memo(input.promptTokens),
    promptTokensAtMost: input.promptTokensAtMost,
    contextTokens: input.contextTokens && memo(input.contextTokens),
    contextTokensAtMost: input.contextTokensAtMost,
    difficulty: memo(input.difficulty),
    learnedDifficulty: input.learnedDifficulty,
    maxOutputTokens: input.maxOutputTokens,
  };
}

/** Claims read from the `x-modelroute-*` headers, every one of them trusted. */
export function claimsFromHeaders(
  headers: Readonly<Record<string, string | undefined>>,
): RequestClaims {
  return {
    tenant: headers[ROUTING_HEADERS.tenant]?.trim(),
    priority: headers[ROUTING_HEADERS.priority]?.trim().toLowerCase(),
    task: headers[ROUTING_HEADERS.task]?.trim().toLowerCase(),
    compliance: headerList(headers[ROUTING_HEADERS.compliance]),
    capabilities: headerList(headers[ROUTING_HEADERS.capabilities]),
  };
}

export interface FactsFromHeadersInput extends LazyFacts {
  /** Header values by lower-case name. */
  headers: Readonly<Record<string, string | undefined>>;
}

/**
 * RequestFacts that trust every routing header: for tests and benchmarks of
 * the routing core. The proxy never uses it; it builds claims from the
 * caller's verified tenant (src/identity/header-trust.ts).
 */
export function factsFromHeaders(input: FactsFromHeadersInput): RequestFacts {
  const { headers } = input;
  return requestFacts({
    ...input,
    header: (name) => headers[name],
    claims: claimsFromHeaders(headers),
  });
}
