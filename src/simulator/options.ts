// The simulator's knobs: their types, defaults and the zod schema the CLI and local mode validate with.
import { z } from 'zod';
import { awsSimulatorOptions, type AwsSimulatorOptions } from './bedrock-identity.js';
import { entraSimulation, type EntraSimulation } from './azure-entra.js';

export interface SimulatorBehavior {
  /** Delay before a buffered response. */
  latencyMs: number;
  /** Delay before the first streamed chunk (headers go out at once). */
  ttftMs: number;
  /** Streaming pace after the first token; 0 = as fast as possible. */
  tokensPerSecond: number;
  /** Completion tokens (words) produced, unless the request's max tokens is lower. */
  outputTokens: number;
  /** 0..1, share of inference requests answered with errorStatus. */
  errorRate: number;
  errorStatus: number;
  /** If non-empty, the Nth inference request gets statusSequence[N] (200 = normal answer), then normal. */
  statusSequence: number[];
  /** Sent as Retry-After on 429 and 503 answers. */
  retryAfterSeconds?: number;
  /** Hold the request this long before sending any byte; Infinity = never answer. */
  stallMs: number;
  /** Streaming: destroy the socket abruptly after this many content tokens. */
  cutAfterTokens?: number;
  /** If set, requests must carry it (Authorization: Bearer / api-key / x-api-key by dialect) else 401. */
  requireApiKey?: string;
  /**
   * With requireApiKey: the 401 repeats the key the request presented
   * ("Incorrect API key provided: sk-…"), as providers do, to test that the
   * proxy never passes it on.
   */
  echoApiKey: boolean;
  embeddingDimensions: number;
}

export interface SimulatorOptions extends Partial<SimulatorBehavior> {
  /** Default 127.0.0.1: loopback only unless a host is given explicitly. */
  host?: string;
  /** Default 0 = a random free port. */
  port?: number;
  /** Served model names for /v1/models (default ['sim-model']); any model name is accepted in requests. */
  models?: string[];
  /** Seeds the errorRate randomness and the generated text (default 1). */
  seed?: number;
  /** Keep every request in `requests` (default true); a long benchmark may turn it off to bound memory. */
  recordRequests?: boolean;
  /**
   * Dataset-quality mode: a results CSV (a `prompt` column and qualityColumn
   * of 0/1 outcomes). Chat answers to a listed prompt (the last user message)
   * start with a marker of its recorded quality, e.g. `⟦q=1⟧`.
   */
  qualityData?: string;
  /** The CSV column of this backend's outcomes; required with qualityData. */
  qualityColumn?: string;
  /** The quality marked on answers to prompts the CSV does not list (default 0.5). */
  qualityDefault?: number;
  /** Judge mode: chat answers give a pairwise verdict (`[[A]]`/`[[B]]`/`[[C]]`) by the two answers' quality markers. */
  judge?: boolean;
  /** Judge mode: share of verdicts that say `[[A]]` whatever the answers (position bias), seeded (default 0). */
  judgePositionBias?: number;
  /** Bedrock: the credentials it accepts and the STS / container credentials endpoints; absent: Bedrock requests are not checked. */
  aws?: AwsSimulatorOptions;
  /**
   * Simulate Entra ID too: a token endpoint at /{tenantId}/oauth2/v2.0/token
   * (point AZURE_AUTHORITY_HOST at the simulator) whose tokens the Azure
   * dialect accepts as `authorization: Bearer`, besides the api-key.
   */
  entra?: EntraSimulation;
  /**
   * Serve https with this PEM certificate and key (the url says https://);
   * with clientCa, only clients presenting a certificate it signed (mutual TLS).
   */
  tls?: { cert: string; key: string; clientCa?: string };
  /**
   * Vertex AI: model paths take only live Google access tokens this (or any
   * in-process) simulator issued; absent: Vertex requests are not checked.
   * The token endpoint (`POST /token`) accepts JWT assertions of
   * `serviceAccounts` (make one with simulatedServiceAccountKey); the
   * metadata server's token endpoint answers anyone who sends
   * `Metadata-Flavor: Google`.
   */
  google?: GoogleSimulatorOptions;
}

export interface GoogleSimulatorOptions {
  serviceAccounts?: { clientEmail: string; publicKeyPem: string }[];
  /** expires_in of the access tokens it issues (default 3599, as Google's). */
  tokenLifetimeSeconds?: number;
}

export const DEFAULT_BEHAVIOR: Readonly<SimulatorBehavior> = Object.freeze({
  latencyMs: 0,
  ttftMs: 0,
  tokensPerSecond: 0,
  outputTokens: 16,
  errorRate: 0,
  errorStatus: 500,
  statusSequence: [],
  retryAfterSeconds: undefined,
  stallMs: 0,
  cutAfterTokens: undefined,
  requireApiKey: undefined,
  echoApiKey: false,
  embeddingDimensions: 8,
});

const ms = z.number().min(0, { message: 'must be >= 0 milliseconds' });
const sequenceStatus = z
  .number()
  .int()
  .refine((s) => s === 200 || (s >= 400 && s <= 599), {
    message: 'must be 200 (a normal answer) or an error status 400..599',
  });

/** Every knob is optional here: the same fields serve as options and as a runtime patch. */
const behaviorFields = {
  latencyMs: ms.optional(),
  ttftMs: ms.optional(),
  tokensPerSecond: z.number().min(0).optional(),
  outputTokens: z.number().int().min(0).max(1_000_000).optional(),
  errorRate: z.number().min(0).max(1).optional(),
  errorStatus: z.number().int().min(400).max(599).optional(),
  statusSequence: z.array(sequenceStatus).optional(),
  retryAfterSeconds: z.number().int().min(0).optional(),
  // Infinity is allowed on purpose: it models an upstream that never answers.
  stallMs: z.union([ms, z.literal(Infinity)]).optional(),
  cutAfterTokens: z.number().int().min(0).optional(),
  requireApiKey: z.string().min(1).optional(),
  echoApiKey: z.boolean().optional(),
  embeddingDimensions: z.number().int().min(1).max(65_536).optional(),
};

export const simulatorBehaviorPatch: z.ZodType<Partial<SimulatorBehavior>> =
  z.strictObject(behaviorFields);

export const simulatorOptions: z.ZodType<SimulatorOptions> = z
  .strictObject({
    ...behaviorFields,
    host: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65_535).optional(),
    models: z.array(z.string().min(1)).min(1).optional(),
    seed: z.number().int().optional(),
    recordRequests: z.boolean().optional(),
    qualityData: z.string().min(1).optional(),
    qualityColumn: z.string().min(1).optional(),
    qualityDefault: z.number().refine(Number.isFinite, 'must be a finite number').optional(),
    judge: z.boolean().optional(),
    judgePositionBias: z.number().min(0).max(1).optional(),
    aws: awsSimulatorOptions.optional(),
    google: z
      .strictObject({
        serviceAccounts: z
          .array(
            z.strictObject({ clientEmail: z.string().min(1), publicKeyPem: z.string().min(1) }),
          )
          .optional(),
        tokenLifetimeSeconds: z.number().int().min(1).optional(),
      })
      .optional(),
    entra: entraSimulation.optional(),
    tls: z
      .strictObject({
        cert: z.string().min(1),
        key: z.string().min(1),
        clientCa: z.string().min(1).optional(),
      })
      .optional(),
  })
  .superRefine((o, ctx) => {
    if ((o.qualityData === undefined) !== (o.qualityColumn === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [o.qualityData === undefined ? 'qualityData' : 'qualityColumn'],
        message:
          "qualityData and qualityColumn go together: the CSV and the column of this backend's outcomes",
      });
    if (o.judge === true && o.qualityData !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['judge'],
        message: 'a simulated backend is either a judge or answers with dataset quality, not both',
      });
    if (o.judgePositionBias !== undefined && o.judge !== true)
      ctx.addIssue({
        code: 'custom',
        path: ['judgePositionBias'],
        message: 'needs judge mode (judge: true)',
      });
  });

/**
 * Applies a (validated) patch: a key present with the value undefined goes
 * back to its default, so callers can clear optional knobs.
 */
export function applyBehavior(
  base: SimulatorBehavior,
  patch: Partial<SimulatorBehavior>,
): SimulatorBehavior {
  const next: SimulatorBehavior = { ...base };
  const target = next as unknown as Record<string, unknown>;
  const defaults = DEFAULT_BEHAVIOR as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    target[key] = value === undefined ? defaults[key] : value;
  }
  return next;
}

/** Resolves options into the full behaviour, dropping the non-behaviour fields. */
export function behaviorFromOptions(options: SimulatorOptions): SimulatorBehavior {
  const patch: Partial<SimulatorBehavior> = {};
  const source = options as Record<string, unknown>;
  const target = patch as Record<string, unknown>;
  for (const key of Object.keys(DEFAULT_BEHAVIOR)) {
    if (key in source) target[key] = source[key];
  }
  return applyBehavior({ ...DEFAULT_BEHAVIOR }, patch);
}
