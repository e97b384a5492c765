// The client APIs served besides the OpenAI-compatible ones, by path.
import type { IngressDialect } from './dialect.js';
import { messagesDialect } from './messages.js';
import { responsesDialect } from './responses.js';

export { COUNT_TOKENS_PATH, handleCountTokens } from './count-tokens.js';
export { anthropicErrorShape } from './error-shapes.js';
export type { IngressDialect, IngressRequest, IngressStream } from './dialect.js';

export const INGRESS_DIALECTS: ReadonlyMap<string, IngressDialect> = new Map(
  [responsesDialect, messagesDialect].map((dialect) => [dialect.path, dialect]),
);
