// The admission.k8s.io/v1 AdmissionReview wire format: the request the API
// server sends (validated with zod: it is the trust boundary) and the
// response envelope we send back.
import { z } from 'zod';
import type { JsonPatchOperation } from '../k8s/types.js';

const groupVersionKind = z.looseObject({
  group: z.string(),
  version: z.string(),
  kind: z.string(),
});
const groupVersionResource = z.looseObject({
  group: z.string(),
  version: z.string(),
  resource: z.string(),
});

export const admissionRequest = z.looseObject({
  uid: z.string().min(1),
  kind: groupVersionKind,
  resource: groupVersionResource,
  subResource: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
  // The object as the user sent it (before our patch); null on DELETE.
  object: z.unknown().optional(),
  dryRun: z.boolean().optional(),
});
export type AdmissionRequest = z.infer<typeof admissionRequest>;

export const admissionReview = z.looseObject({
  apiVersion: z.literal('admission.k8s.io/v1', {
    message: 'apiVersion must be admission.k8s.io/v1 (set admissionReviewVersions: [v1])',
  }),
  kind: z.literal('AdmissionReview', { message: 'kind must be AdmissionReview' }),
  request: admissionRequest,
});

/** What the webhook decided about one request. */
export type AdmissionDecision =
  | { allowed: true; patch?: JsonPatchOperation[] | undefined; warnings?: string[] | undefined }
  | { allowed: false; code: number; message: string };

export interface AdmissionResponseBody {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string };
    patchType?: 'JSONPatch';
    patch?: string;
    warnings?: string[];
  };
}

/** The AdmissionReview the API server expects back: same uid, the patch base64-encoded JSON. */
export function admissionResponse(uid: string, decision: AdmissionDecision): AdmissionResponseBody {
  const response: AdmissionResponseBody['response'] = { uid, allowed: decision.allowed };
  if (!decision.allowed) {
    response.status = { code: decision.code, message: decision.message };
  } else {
    if (decision.patch && decision.patch.length > 0) {
      response.patchType = 'JSONPatch';
      response.patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
    }
    // kubectl prints these to the user who created the pod.
    if (decision.warnings && decision.warnings.length > 0) response.warnings = decision.warnings;
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/** Why a body is not an AdmissionReview, in a sentence naming the fields. */
export function explainInvalidReview(error: z.ZodError): string {
  const issues = error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
  return `the body is not an admission.k8s.io/v1 AdmissionReview with a request: ${issues}`;
}
