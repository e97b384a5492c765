// What the routing core knows about one request. Expensive facts (token count,
// difficulty) are functions: the core calls them only when a rule or backend
// needs them, and the caller memoises them so each is computed at most once.

/** Headers clients set to steer routing. */
export const ROUTING_HEADERS = {
  tenant: 'x-modelroute-tenant',
  priority: 'x-modelroute-priority',
  task: 'x-modelroute-task',
  compliance: 'x-modelroute-compliance',
  capabilities: 'x-modelroute-capabilities',
} as const;

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
  /** Output tokens the client asked for at most (max_tokens), if it said. */
  maxOutputTokens?: number | undefined;
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

export interface FactsFromHeadersInput {
  model: string;
  /** Header values by lower-case name. */
  headers: Readonly<Record<string, string | undefined>>;
  /** Capabilities the request body implies (e.g. vision when it carries images). */
  impliedCapabilities?: readonly string[];
  promptTokens: () => number;
  promptTokensAtMost?: number | undefined;
  contextTokens?: (() => number) | undefined;
  contextTokensAtMost?: number | undefined;
  difficulty: () => number;
  maxOutputTokens?: number | undefined;
}

/** Builds RequestFacts from the `x-modelroute-*` headers; memoises the lazy facts. */
export function factsFromHeaders(input: FactsFromHeadersInput): RequestFacts {
  const { headers } = input;
  const capabilities = new Set([
    ...(input.impliedCapabilities ?? []),
    ...headerList(headers[ROUTING_HEADERS.capabilities]),
  ]);
  return {
    model: input.model,
    header: (name) => headers[name],
    tenant: headers[ROUTING_HEADERS.tenant]?.trim(),
    priority: headers[ROUTING_HEADERS.priority]?.trim().toLowerCase(),
    task: headers[ROUTING_HEADERS.task]?.trim().toLowerCase(),
    compliance: headerList(headers[ROUTING_HEADERS.compliance]),
    capabilities: [...capabilities],
    promptTokens: memo(input.promptTokens),
    promptTokensAtMost: input.promptTokensAtMost,
    contextTokens: input.contextTokens && memo(input.contextTokens),
    contextTokensAtMost: input.contextTokensAtMost,
    difficulty: memo(input.difficulty),
    maxOutputTokens: input.maxOutputTokens,
  };
}
