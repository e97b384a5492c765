// The AWS side of a simulated Bedrock: which credentials it accepts (access
// keys, Bedrock API keys, and temporary credentials it minted), an STS
// AssumeRoleWithWebIdentity endpoint and a container credentials endpoint
// (EKS Pod Identity / ECS) that mint them, and the check of each Bedrock
// request's SigV4 signature or API key.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { sendJson } from './respond.js';
import { verifySigV4, type AwsKey } from './bedrock-sigv4.js';

export const awsSimulatorOptions = z.strictObject({
  /** Long-lived access keys the simulated account has. */
  accessKeys: z
    .array(
      z.strictObject({
        accessKeyId: z.string().min(1),
        secretAccessKey: z.string().min(1),
        sessionToken: z.string().min(1).optional(),
      }),
    )
    .optional(),
  /** Bedrock API keys (sent as `authorization: Bearer`). */
  apiKeys: z.array(z.string().min(1)).optional(),
  /** The region signatures must be scoped to; absent: any. */
  region: z.string().min(1).optional(),
  /** STS AssumeRoleWithWebIdentity at `POST /`: the role and the token it trusts. */
  webIdentity: z
    .strictObject({
      roleArn: z.string().min(1),
      token: z.string().min(1),
      durationSeconds: z.number().int().positive().optional(),
    })
    .optional(),
  /** Container credentials at `GET /v1/credentials`: the authorization token it wants. */
  containerCredentials: z
    .strictObject({
      authorizationToken: z.string().min(1),
      durationSeconds: z.number().int().positive().optional(),
    })
    .optional(),
});
export type AwsSimulatorOptions = z.infer<typeof awsSimulatorOptions>;

/** The path the container credentials endpoint answers on (as EKS Pod Identity's agent). */
export const CONTAINER_CREDENTIALS_PATH = '/v1/credentials';
const DEFAULT_DURATION_SECONDS = 3600;

export interface AwsRefusal {
  status: number;
  /** The x-amzn-errortype. */
  type: string;
  message: string;
}

export interface SimulatedAwsIdentity {
  /** Answers STS and container credentials requests; false for anything else. */
  handleIdentityRequest(
    req: IncomingMessage,
    res: ServerResponse,
    raw: Buffer | undefined,
  ): boolean;
  /** Checks a Bedrock request's credential; undefined: accepted. */
  authorize(req: IncomingMessage, raw: Buffer | undefined): AwsRefusal | undefined;
  /** How many credentials STS and the container endpoint minted (tests check that refreshes happened). */
  readonly minted: number;
}

/**
 * Without options, Bedrock requests are not checked (`simulate://` backends
 * in local mode have no AWS account behind them); with them, every request
 * must carry a valid signature or API key.
 */
export function simulatedAwsIdentity(
  options: AwsSimulatorOptions | undefined,
  now: () => number = Date.now,
): SimulatedAwsIdentity {
  const keys = new Map<string, AwsKey>();
  for (const key of options?.accessKeys ?? []) keys.set(key.accessKeyId, key);
  let minted = 0;

  function mint(durationSeconds: number): AwsKey {
    minted++;
    const key: AwsKey = {
      accessKeyId: `ASIASIM${String(minted).padStart(9, '0')}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(48).toString('base64'),
      expiresAtMs: now() + durationSeconds * 1000,
    };
    keys.set(key.accessKeyId, key);
    return key;
  }

  function sts(req: IncomingMessage, res: ServerResponse, raw: Buffer | undefined): void {
    const form = new URLSearchParams(raw?.toString('utf8') ?? '');
    const fail = (status: number, code: string, message: string): void => {
      const body = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>sim</RequestId></ErrorResponse>`;
      res.writeHead(status, { 'content-type': 'text/xml' });
      res.end(body);
    };
    const web = options?.webIdentity;
    if (form.get('Action') !== 'AssumeRoleWithWebIdentity' || form.get('Version') !== '2011-06-15')
      return fail(400, 'InvalidAction', 'Could not find operation for this simulated STS');
    if (web === undefined)
      return fail(400, 'InvalidIdentityToken', 'No OpenIDConnect provider found in your account');
    if (form.get('WebIdentityToken') !== web.token)
      return fail(400, 'InvalidIdentityToken', 'Incorrect token audience');
    if (form.get('RoleArn') !== web.roleArn)
      return fail(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    if (!form.get('RoleSessionName'))
      return fail(
        400,
        'ValidationError',
        "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
      );
    const key = mint(web.durationSeconds ?? DEFAULT_DURATION_SECONDS);
    const xml = `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>${key.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${key.secretAccessKey}</SecretAccessKey>
      <SessionToken>${key.sessionToken ?? ''}</SessionToken>
      <Expiration>${new Date(key.expiresAtMs ?? 0).toISOString()}</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>${web.roleArn}/session</Arn><AssumedRoleId>AROASIM:session</AssumedRoleId></AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`;
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(xml);
  }

  function container(req: IncomingMessage, res: ServerResponse): void {
    const settings = options?.containerCredentials;
    if (settings === undefined || req.headers.authorization !== settings.authorizationToken) {
      sendJson(
        res,
        401,
        JSON.stringify({ code: 'AccessDeniedException', message: 'Invalid authorization token' }),
      );
      return;
    }
    const key = mint(settings.durationSeconds ?? DEFAULT_DURATION_SECONDS);
    sendJson(
      res,
      200,
      JSON.stringify({
        AccessKeyId: key.accessKeyId,
        SecretAccessKey: key.secretAccessKey,
        Token: key.sessionToken,
        AccountId: '123456789012',
        Expiration: new Date(key.expiresAtMs ?? 0).toISOString(),
      }),
    );
  }

  return {
    get minted() {
      return minted;
    },
    handleIdentityRequest(req, res, raw) {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && path === '/') {
        sts(req, res, raw);
        return true;
      }
      if (req.method === 'GET' && path === CONTAINER_CREDENTIALS_PATH) {
        container(req, res);
        return true;
      }
      return false;
    },
    authorize(req, raw) {
      if (options === undefined) return undefined;
      const authorization = req.headers.authorization;
      if (authorization?.startsWith('Bearer ')) {
        if (options.apiKeys?.includes(authorization.slice('Bearer '.length))) return undefined;
        return {
          status: 403,
          type: 'AccessDeniedException',
          message: 'Authentication failed: Please make sure your API Key is valid.',
        };
      }
      const verdict = verifySigV4(
        {
          method: req.method ?? '',
          target: req.url ?? '/',
          headers: req.headers,
          body: raw ?? Buffer.alloc(0),
        },
        {
          lookup: (id) => keys.get(id),
          now: now(),
          service: 'bedrock',
          region: options.region,
        },
      );
      return verdict.ok ? undefined : verdict;
    },
  };
}
