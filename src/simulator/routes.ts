// Maps a method and URL to a dialect and operation: OpenAI, Azure OpenAI deployment paths, Anthropic Messages, Bedrock runtime, Vertex AI publisher models.
import type { Problem, RouteMatch } from './types.js';

const OPENAI_POST: Record<string, RouteMatch> = {
  '/v1/chat/completions': { dialect: 'openai', operation: 'chat' },
  '/v1/completions': { dialect: 'openai', operation: 'completions' },
  '/v1/embeddings': { dialect: 'openai', operation: 'embeddings' },
  '/v1/messages': { dialect: 'anthropic', operation: 'messages' },
};

const AZURE_OPERATIONS: Record<string, RouteMatch['operation']> = {
  'chat/completions': 'chat',
  completions: 'completions',
  embeddings: 'embeddings',
};

const BEDROCK_PATH =
  /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream|count-tokens)$/;

const BEDROCK_OPERATIONS: Record<string, { operation: RouteMatch['operation']; stream: boolean }> =
  {
    converse: { operation: 'converse', stream: false },
    'converse-stream': { operation: 'converse', stream: true },
    invoke: { operation: 'invoke', stream: false },
    'invoke-with-response-stream': { operation: 'invoke', stream: true },
    'count-tokens': { operation: 'count-tokens', stream: false },
  };

const AZURE_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/;

const VERTEX_PATH =
  /^\/v1\/projects\/[^/]+\/locations\/[^/]+\/publishers\/(google|anthropic)\/models\/([^/:]+):([A-Za-z]+)$/;

const VERTEX_METHODS: Record<string, { operation: RouteMatch['operation']; stream: boolean }> = {
  'google:generateContent': { operation: 'generate-content', stream: false },
  'google:streamGenerateContent': { operation: 'generate-content', stream: true },
  'google:countTokens': { operation: 'vertex-count-tokens', stream: false },
  'anthropic:rawPredict': { operation: 'raw-predict', stream: false },
  'anthropic:streamRawPredict': { operation: 'raw-predict', stream: true },
};

/** A Vertex AI model path: `.../publishers/{google|anthropic}/models/{model}:{method}`. */
function vertexRoute(path: string): RouteResult | undefined {
  const match = VERTEX_PATH.exec(path);
  if (!match) return undefined;
  const [, publisher, model, method] = match as unknown as [string, string, string, string];
  const dialect = publisher === 'google' ? 'vertex' : 'anthropic-vertex';
  const found = VERTEX_METHODS[`${publisher}:${method}`];
  if (!found) {
    return {
      ok: false,
      dialect,
      problem: {
        status: 404,
        message: `Method ${method} is not found for publisher ${publisher}.`,
      },
    };
  }
  return { ok: true, route: { dialect, ...found, modelId: decodeURIComponent(model) } };
}

export type RouteResult =
  { ok: true; route: RouteMatch } | { ok: false; dialect: RouteMatch['dialect']; problem: Problem };

export function matchRoute(method: string | undefined, url: string | undefined): RouteResult {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);

  if (method === 'POST') {
    const direct = OPENAI_POST[path];
    if (direct) return { ok: true, route: direct };
    const bedrock = BEDROCK_PATH.exec(path);
    if (bedrock) {
      const op = BEDROCK_OPERATIONS[bedrock[2] as string] as (typeof BEDROCK_OPERATIONS)[string];
      return {
        ok: true,
        route: {
          dialect: 'bedrock',
          operation: op.operation,
          stream: op.stream,
          modelId: decodeURIComponent(bedrock[1] as string),
        },
      };
    }
    const vertex = vertexRoute(path);
    if (vertex) return vertex;
    const azure = AZURE_PATH.exec(path);
    if (azure) {
      const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
      // Azure answers a missing api-version with a bare 404, not a 400.
      if (!query.get('api-version')) {
        return {
          ok: false,
          dialect: 'azure',
          problem: { status: 404, message: 'Resource not found', code: '404' },
        };
      }
      return {
        ok: true,
        route: {
          dialect: 'azure',
          operation: AZURE_OPERATIONS[azure[2] as string] ?? 'chat',
          deployment: decodeURIComponent(azure[1] as string),
        },
      };
    }
  } else if (method === 'GET' && (path === '/v1/models' || path === '/openai/models')) {
    // /openai/models is Azure's model list (what health probes of Azure backends ask for).
    return {
      ok: true,
      route: { dialect: path === '/v1/models' ? 'openai' : 'azure', operation: 'models' },
    };
  }

  return {
    ok: false,
    dialect: path.startsWith('/v1/messages')
      ? 'anthropic'
      : path.startsWith('/model/')
        ? 'bedrock'
        : path.startsWith('/openai/')
          ? 'azure'
          : path.startsWith('/v1/projects/')
            ? 'vertex'
            : 'openai',
    problem: {
      status: 404,
      message: `Invalid URL (${method ?? '?'} ${path})`,
      code: 'unknown_url',
    },
  };
}
