// A simulated Entra ID token endpoint (POST /{tenant}/oauth2/v2.0/token, the
// client credentials grant) and the Azure OpenAI check of the Bearer tokens it
// issued: a wrong client secret or federated assertion is refused with
// Entra's AADSTS error shape, and an unknown or expired token with Azure's 401.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { sendJson } from './respond.js';
import type { Problem } from './types.js';

export const entraSimulation = z.strictObject({
  tenantId: z.string().min(1),
  clientId: z.string().min(1),
  /** Accepted client secret (source clientSecret). */
  clientSecret: z.string().min(1).optional(),
  /** Accepted client assertion (the workload identity's federated token). */
  federatedToken: z.string().min(1).optional(),
  /** expires_in of issued tokens (default 3599, as Entra answers). */
  tokenLifetimeSeconds: z.number().int().min(1).optional(),
});
export type EntraSimulation = z.infer<typeof entraSimulation>;

const TOKEN_PATH = /^\/([^/?]+)\/oauth2\/v2\.0\/token(?:\?.*)?$/;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Azure OpenAI's answer to a missing, unknown or expired Bearer token. */
const BAD_TOKEN: Problem = {
  status: 401,
  message:
    'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.',
  code: '401',
};

export class EntraTokenIssuer {
  /** Issued token -> when it expires (ms since the epoch). */
  private readonly issued = new Map<string, number>();

  constructor(
    private readonly config: EntraSimulation,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a request is for the token endpoint. */
  handles(method: string | undefined, url: string | undefined): boolean {
    return method === 'POST' && TOKEN_PATH.test(url ?? '');
  }

  /** Answers a token request (its form body as text). */
  answer(res: ServerResponse, url: string, body: string): void {
    const tenant = decodeURIComponent(TOKEN_PATH.exec(url)?.[1] ?? '');
    const form = new URLSearchParams(body);
    const refuse = (status: number, error: string, code: number, text: string): void =>
      sendJson(
        res,
        status,
        JSON.stringify({
          error,
          error_description: `AADSTS${code}: ${text}\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\nTimestamp: ${new Date(this.now()).toISOString()}`,
          error_codes: [code],
          timestamp: new Date(this.now()).toISOString(),
        }),
      );
    if (tenant !== this.config.tenantId)
      return refuse(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials')
      return refuse(
        400,
        'unsupported_grant_type',
        70003,
        'The app requested an unsupported grant type.',
      );
    if (form.get('client_id') !== this.config.clientId)
      return refuse(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.get('client_id') ?? ''}' was not found in the directory.`,
      );
    if (!form.get('scope')?.endsWith('/.default'))
      return refuse(400, 'invalid_scope', 1002012, 'The provided value for scope is not valid.');
    const assertion = form.get('client_assertion');
    const secret = form.get('client_secret');
    if (assertion !== null) {
      if (form.get('client_assertion_type') !== JWT_BEARER)
        return refuse(
          400,
          'invalid_request',
          90014,
          "The field 'client_assertion_type' is missing.",
        );
      if (this.config.federatedToken === undefined || assertion !== this.config.federatedToken)
        return refuse(
          400,
          'invalid_client',
          70021,
          'No matching federated identity record found for presented assertion.',
        );
    } else if (secret !== null) {
      if (this.config.clientSecret === undefined || secret !== this.config.clientSecret)
        return refuse(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    } else {
      return refuse(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    const lifetime = this.config.tokenLifetimeSeconds ?? 3599;
    const token = `sim-entra.${randomBytes(18).toString('base64url')}`;
    this.issued.set(token, this.now() + lifetime * 1000);
    sendJson(
      res,
      200,
      JSON.stringify({
        token_type: 'Bearer',
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token: token,
      }),
    );
  }

  /** Undefined when the request carries a token this issuer gave out that has not expired; else the 401. */
  refusal(req: IncomingMessage): Problem | undefined {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    const expires = token === undefined ? undefined : this.issued.get(token);
    return expires !== undefined && this.now() < expires ? undefined : BAD_TOKEN;
  }

  /** Forgets every token issued, as if they had all expired. */
  expireAll(): void {
    this.issued.clear();
  }
}
