// The proxy's flags for credential delivery (keys of platform-namespace
// backends fetched from the controller), validated with zod; the CA file is
// read here so a wrong path stops the start with the file named.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_CREDENTIALS_TOKEN_FILE } from '../proxy/credential-protocol.js';
import type { CredentialDeliverySettings } from '../proxy/delivered-credentials.js';

export const CREDENTIAL_FLAG_HELP = `  --credentials-url URL    fetch the API keys of other namespaces' backends from the controller
                           (env MODELROUTE_CREDENTIALS_URL; set by the sidecar injector)
  --credentials-ca-file F  CA that signed the controller's certificate (env MODELROUTE_CREDENTIALS_CA_FILE,
                           or the PEM itself in MODELROUTE_CREDENTIALS_CA, as the injector sets it)
  --credentials-token-file F  the pod's projected ServiceAccount token, audience modelroute-controller
                           (default ${DEFAULT_CREDENTIALS_TOKEN_FILE})`;

export const CREDENTIAL_FLAG_OPTIONS = {
  'credentials-url': { type: 'string' },
  'credentials-ca-file': { type: 'string' },
  'credentials-token-file': { type: 'string' },
} as const;

const deliverySettings = z.object({
  url: z
    .url({
      message:
        '--credentials-url must be a URL such as https://modelroute-webhook.modelroute-system.svc:443/v1/credentials',
    })
    .refine((u) => u.startsWith('https://'), {
      message: '--credentials-url must be https: API keys are never fetched in the clear',
    }),
  caFile: z.string().min(1, {
    message:
      "--credentials-ca-file (or env MODELROUTE_CREDENTIALS_CA) is required with --credentials-url: the CA that signed the controller's certificate",
  }),
  tokenFile: z.string().min(1),
});

/** Delivery settings, none when no URL is given, or a message naming what is wrong. */
export function resolveCredentialDelivery(
  values: Partial<Record<keyof typeof CREDENTIAL_FLAG_OPTIONS, string | undefined>>,
  env: NodeJS.ProcessEnv,
): { ok: true; settings: CredentialDeliverySettings | undefined } | { ok: false; message: string } {
  const url = values['credentials-url'] ?? (env.MODELROUTE_CREDENTIALS_URL || undefined);
  if (url === undefined) return { ok: true, settings: undefined };
  const caFile = values['credentials-ca-file'] ?? env.MODELROUTE_CREDENTIALS_CA_FILE;
  const inlineCa = caFile === undefined ? env.MODELROUTE_CREDENTIALS_CA || undefined : undefined;
  const parsed = deliverySettings.safeParse({
    url,
    caFile: caFile ?? (inlineCa !== undefined ? '(env MODELROUTE_CREDENTIALS_CA)' : ''),
    tokenFile: values['credentials-token-file'] ?? DEFAULT_CREDENTIALS_TOKEN_FILE,
  });
  if (!parsed.success)
    return { ok: false, message: parsed.error.issues.map((i) => i.message).join('\n') };
  let ca: string;
  try {
    ca = inlineCa ?? readFileSync(parsed.data.caFile, 'utf8');
  } catch (err) {
    return {
      ok: false,
      message: `cannot read --credentials-ca-file ${parsed.data.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    };
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----'))
    return {
      ok: false,
      message: `--credentials-ca-file ${parsed.data.caFile} holds no PEM certificate`,
    };
  const namespace = env.POD_NAMESPACE || undefined;
  if (namespace === undefined)
    // Without it every credentialed backend would look like another namespace's, mounted keys included.
    return {
      ok: false,
      message:
        "POD_NAMESPACE must be set with --credentials-url (the sidecar injector sets it from the downward API): keys of backends in the pod's own namespace stay mounted",
    };
  return {
    ok: true,
    settings: {
      url: parsed.data.url,
      ca,
      tokenFile: parsed.data.tokenFile,
      namespace,
    },
  };
}
