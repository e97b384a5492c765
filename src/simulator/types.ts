// Shapes shared by the simulator's server loop and its dialect handlers.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AnswerPlanner } from './answers.js';
import type { SimulatorBehavior } from './options.js';
import type { TextGenerator } from './text.js';

/**
 * bedrock: Bedrock runtime; vertex: Gemini on Vertex AI; anthropic-vertex:
 * Claude on Vertex AI (Google auth errors, Anthropic model errors).
 */
export type Dialect = 'openai' | 'azure' | 'anthropic' | 'bedrock' | 'vertex' | 'anthropic-vertex';
export type Operation =
  | 'chat'
  | 'completions'
  | 'embeddings'
  | 'models'
  | 'messages'
  | 'converse'
  | 'invoke'
  | 'count-tokens'
  | 'generate-content'
  | 'vertex-count-tokens'
  | 'raw-predict';

export interface RouteMatch {
  dialect: Dialect;
  operation: Operation;
  /** Azure only: the deployment named in the path, the model when the body names none. */
  deployment?: string;
  /** Bedrock and Vertex AI: the model id in the path (decoded), and whether the operation streams. */
  modelId?: string;
  stream?: boolean;
}

/** A client error to answer in the dialect's error shape. */
export interface Problem {
  status: number;
  message: string;
  /** OpenAI's `param`: the offending request field. */
  param?: string;
  /** OpenAI's `code`. */
  code?: string;
}

/** What a handler needs that lives as long as the server. */
export interface ServerState {
  text: TextGenerator;
  /** Increments per answer, to make response ids unique. */
  nextId(): number;
  /** The cached /v1/models body. */
  modelsBody: string;
  /** Chat answer pieces for a request body (generated words, quality-marked, or a judge's verdict). */
  answer: AnswerPlanner;
}

export interface RequestContext {
  res: ServerResponse;
  headers: IncomingHttpHeaders;
  route: RouteMatch;
  body: Record<string, unknown>;
  /** A snapshot taken when the request arrived, so setBehavior never changes a request mid-flight. */
  behavior: SimulatorBehavior;
  state: ServerState;
}

export interface OperationHandler {
  /** Checks the request body; a problem is answered as a 4xx before any fault is injected. */
  validate(ctx: RequestContext): Problem | undefined;
  /** Sends the normal answer (buffered or streamed). */
  respond(ctx: RequestContext): void;
}
