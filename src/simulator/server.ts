// The simulated model server: node:http loop, request recording, stall/auth/fault injection, dispatch to dialects.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../routing/random.js';
import { answerModes, answerPlanner } from './answers.js';
import { EntraTokenIssuer } from './azure-entra.js';
import { messages } from './anthropic-dialect.js';
import { converse, countTokens, invoke } from './bedrock-dialect.js';
import { simulatedAwsIdentity, type SimulatedAwsIdentity } from './bedrock-identity.js';
import { sendError, unauthorized } from './errors.js';
import { chat, completions, embeddings, modelsBody } from './openai-dialect.js';
import {
  applyBehavior,
  behaviorFromOptions,
  simulatorBehaviorPatch,
  simulatorOptions,
  type SimulatorBehavior,
  type SimulatorOptions,
} from './options.js';
import { RequestTimer, sendJson } from './respond.js';
import { matchRoute } from './routes.js';
import { isRecord, TextGenerator } from './text.js';
import type { Dialect, Operation, OperationHandler, Problem, ServerState } from './types.js';
import { SimulatedGoogleAuth, UNAUTHENTICATED_BODY } from './vertex-auth.js';
import { countGeminiTokens, generateContent, rawPredict } from './vertex-dialect.js';

export interface RecordedRequest {
  method: string;
  /** The request target as sent: path plus query string (e.g. Azure's `?api-version=`). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON; the raw text when it was not JSON; undefined when empty. */
  body: unknown;
}

export interface SimulatedBackend {
  /** e.g. http://127.0.0.1:41234 (no trailing slash, no /v1). */
  url: string;
  port: number;
  /** Every request received, in arrival order (unless recordRequests is false). */
  requests: RecordedRequest[];
  /**
   * Calls `listener` with every request as it arrives (its body read), and
   * the wall-clock time then: what a rate-limited provider would count.
   * Works with recordRequests false, so a long benchmark keeps no bodies.
   */
  onRequest(listener: (request: RecordedRequest, receivedAtMs: number) => void): void;
  /** Changes knobs for requests that arrive from now on; a key set to undefined returns to its default. */
  setBehavior(patch: Partial<SimulatorBehavior>): void;
  /** Bedrock: the simulated AWS account (how many credentials its STS and container endpoints minted). */
  aws: SimulatedAwsIdentity;
  /** With the `entra` option: forgets every Entra ID token issued, as if all had expired. */
  expireEntraTokens(): void;
  /** Stops listening and destroys every open socket, stalled ones included. */
  close(): Promise<void>;
}

const HANDLERS: Record<Exclude<Operation, 'models'>, OperationHandler> = {
  chat,
  completions,
  embeddings,
  messages,
  converse,
  invoke,
  'count-tokens': countTokens,
  'generate-content': generateContent,
  'vertex-count-tokens': countGeminiTokens,
  'raw-predict': rawPredict,
};

/** Vertex AI's model endpoints take Google access tokens, not API keys. */
const isVertex = (dialect: Dialect): boolean =>
  dialect === 'vertex' || dialect === 'anthropic-vertex';

const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** setTimeout's limit; a longer stall is as good as forever. */
const MAX_TIMER_MS = 2_147_483_647;

/** The key a request presents, in its dialect's header. */
function presentedKey(dialect: Dialect, req: IncomingMessage): string | undefined {
  const header = (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  switch (dialect) {
    case 'anthropic':
      return header('x-api-key');
    case 'azure':
      return header('api-key');
    default:
      return header('authorization')?.replace(/^Bearer /, '');
  }
}

function hasApiKey(dialect: Dialect, req: IncomingMessage, key: string): boolean {
  return presentedKey(dialect, req) === key;
}

function refusal(dialect: Dialect, req: IncomingMessage, b: SimulatorBehavior) {
  return unauthorized(dialect, b.echoApiKey ? (presentedKey(dialect, req) ?? '') : undefined);
}

export async function startSimulatedBackend(
  options: SimulatorOptions = {},
): Promise<SimulatedBackend> {
  const opts = simulatorOptions.parse(options);
  const seed = opts.seed ?? 1;
  const record = opts.recordRequests ?? true;
  const host = opts.host ?? '127.0.0.1';
  let behavior = behaviorFromOptions(opts);
  const aws = simulatedAwsIdentity(opts.aws);
  let sequenceIndex = 0;
  const random = seededRandom(seed);
  const requests: RecordedRequest[] = [];
  let idCounter = 0;
  const arrivalListeners: ((request: RecordedRequest, receivedAtMs: number) => void)[] = [];
  const text = new TextGenerator(seed);
  const entra = opts.entra ? new EntraTokenIssuer(opts.entra) : undefined;
  const state: ServerState = {
    text,
    nextId: () => ++idCounter,
    modelsBody: modelsBody(opts.models ?? ['sim-model']),
    answer: answerPlanner(text, answerModes(opts, seed)),
  };
  const googleAuth = new SimulatedGoogleAuth({
    serviceAccounts: opts.google?.serviceAccounts ?? [],
    tokenLifetimeSeconds: opts.google?.tokenLifetimeSeconds ?? 3599,
    now: Date.now,
  });

  /**
   * Why a request is refused (undefined: it may pass). With `entra`, Azure
   * requests pass with the api-key (when one is required) or a Bearer token
   * issued by the simulated token endpoint.
   */
  function authProblem(
    dialect: Dialect,
    req: IncomingMessage,
    b: SimulatorBehavior,
  ): Problem | undefined {
    const keyOk = b.requireApiKey === undefined || hasApiKey(dialect, req, b.requireApiKey);
    if (dialect !== 'azure' || entra === undefined)
      return keyOk ? undefined : refusal(dialect, req, b);
    if (b.requireApiKey !== undefined && keyOk) return undefined;
    if (req.headers.authorization === undefined && req.headers['api-key'] !== undefined)
      return refusal(dialect, req, b);
    return entra.refusal(req);
  }

  /** The status an inference request is answered with: the sequence first, then the error rate. */
  function injectedStatus(b: SimulatorBehavior): number {
    if (sequenceIndex < b.statusSequence.length) {
      return b.statusSequence[sequenceIndex++] as number;
    }
    if (b.errorRate > 0 && random() < b.errorRate) return b.errorStatus;
    return 200;
  }

  /** `raw` is undefined for an empty body and null for an oversized one. */
  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer | undefined | null): void {
    const text = raw ? raw.toString('utf8') : '';
    let body: unknown;
    let parsed = true;
    if (text.length > 0) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
        parsed = false;
      }
    }
    const receivedAtMs = Date.now();
    if (record || arrivalListeners.length > 0) {
      const entry = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      if (record) requests.push(entry);
      for (const listener of arrivalListeners) listener(entry, receivedAtMs);
    }

    if (aws.handleIdentityRequest(req, res, raw ?? undefined)) return;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (googleAuth.handle(req, res, path, text)) return;

    if (entra?.handles(req.method, req.url)) {
      entra.answer(res, req.url ?? '', text);
      return;
    }
    const matched = matchRoute(req.method, req.url);
    if (!matched.ok) {
      sendError(res, matched.dialect, matched.problem);
      return;
    }
    const { route } = matched;
    const b = behavior;

    if (route.operation === 'models') {
      // Listing models is cheap and never faulted, so health probes see the server as up.
      const problem = authProblem(route.dialect, req, b);
      if (problem) {
        sendError(res, route.dialect, problem);
      } else {
        sendJson(res, 200, state.modelsBody);
      }
      return;
    }

    const answer = (): void => {
      const dialect = route.dialect;
      if (isVertex(dialect)) {
        if (opts.google !== undefined && !googleAuth.authorized(req)) {
          sendJson(res, 401, UNAUTHENTICATED_BODY);
          return;
        }
      } else if (dialect === 'bedrock') {
        const refused = aws.authorize(req, raw ?? undefined);
        if (refused) {
          sendError(res, dialect, {
            status: refused.status,
            message: refused.message,
            code: refused.type,
          });
          return;
        }
      } else {
        const refused = authProblem(dialect, req, b);
        if (refused) {
          sendError(res, dialect, refused);
          return;
        }
      }
      if (raw === null) {
        sendError(res, dialect, { status: 413, message: 'Request body too large.' });
        return;
      }
      if (!parsed || !isRecord(body)) {
        sendError(res, dialect, {
          status: 400,
          message:
            'We could not parse the JSON body of your request. The request body must be a JSON object.',
        });
        return;
      }
      const ctx = { res, headers: req.headers, route, body, behavior: b, state };
      const handler = HANDLERS[route.operation as Exclude<Operation, 'models'>];
      const problem = handler.validate(ctx);
      if (problem) {
        sendError(res, dialect, problem);
        return;
      }
      const status = injectedStatus(b);
      if (status !== 200) {
        sendError(
          res,
          dialect,
          { status, message: `Simulated upstream error (HTTP ${status}).` },
          b.retryAfterSeconds,
        );
        return;
      }
      handler.respond(ctx);
    };

    if (b.stallMs <= 0) {
      answer();
    } else if (b.stallMs <= MAX_TIMER_MS) {
      new RequestTimer(res).after(b.stallMs, answer);
    }
    // Otherwise the request is held until the client gives up or close() destroys the socket.
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const raw =
        size > MAX_BODY_BYTES
          ? null
          : chunks.length === 0
            ? undefined
            : chunks.length === 1
              ? chunks[0]
              : Buffer.concat(chunks);
      handle(req, res, raw);
    });
  };
  const tls = opts.tls;
  const server = tls
    ? createHttpsServer(
        {
          keepAlive: true,
          noDelay: true,
          cert: tls.cert,
          key: tls.key,
          ...(tls.clientCa
            ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }
            : {}),
        },
        onRequest,
      )
    : createServer({ keepAlive: true, noDelay: true }, onRequest);
  // Long idle keep-alive so a benchmark's connection pool is not churned by the server.
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: opts.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    url: `${tls ? 'https' : 'http'}://${urlHost}:${port}`,
    port,
    requests,
    aws,
    onRequest(listener) {
      arrivalListeners.push(listener);
    },
    setBehavior(patch) {
      simulatorBehaviorPatch.parse(patch);
      behavior = applyBehavior(behavior, patch);
      if ('statusSequence' in patch) sequenceIndex = 0;
    },
    expireEntraTokens() {
      entra?.expireAll();
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
