// Maps a method and URL to a dialect and operation: OpenAI, Azure OpenAI deployment paths, Anthropic Messages, Bedrock runtime.
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
          : 'openai',
    problem: {
      status: 404,
      message: `Invalid URL (${method ?? '?'} ${path})`,
      code: 'unknown_url',
    },
  };
}
