// Building blocks shared by the ModelRoute and ModelBackend schemas.
import { z } from 'zod';

export const GROUP = 'modelroute.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/**
 * A cross-field rule, written once and enforced twice: as CEL in the CRD (so
 * `kubectl apply` rejects a bad object at once) and as a zod refinement (so
 * local mode and `modelroute validate` reject the same files offline).
 * `holds` must agree with `rule`; the CRD validation suite checks them on the
 * real API server against the same fixtures.
 */
export interface CrossFieldRule<T> {
  /** CEL expression evaluated with `self` bound to the object. */
  rule: string;
  /** Says what is wrong and what to do; names the fields involved. */
  message: string;
  /** JSON path (from `self`) of the field to blame, e.g. `.endpoint`. */
  fieldPath?: string;
  holds: (value: T) => boolean;
}

export function withCrossFieldRules<S extends z.ZodType>(
  schema: S,
  rules: readonly CrossFieldRule<z.output<S>>[],
): S {
  const existing = schema.meta() ?? {};
  const validations = rules.map(({ rule, message, fieldPath }) =>
    fieldPath ? { rule, message, fieldPath } : { rule, message },
  );
  let out: S = schema.meta({ ...existing, 'x-kubernetes-validations': validations });
  for (const r of rules) {
    out = out.refine(
      (value) => {
        try {
          return r.holds(value);
        } catch {
          return true; // the value is malformed; its field errors say why
        }
      },
      {
        message: r.message,
        path: r.fieldPath ? fieldPathToArray(r.fieldPath) : [],
        // Check even when fields already failed, so one run reports every mistake.
        when: () => true,
      },
    );
  }
  return out;
}

function fieldPathToArray(fieldPath: string): string[] {
  return fieldPath.split('.').filter((p) => p.length > 0);
}

/**
 * A list whose entries are keyed by one field (`x-kubernetes-list-type: map`):
 * the API server refuses duplicate keys, and so does this schema offline.
 */
export function listMap<T extends z.ZodType>(item: T, key: string & keyof z.output<T>) {
  return z
    .array(item)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [key] })
    .superRefine((entries, ctx) => {
      const seen = new Set<unknown>();
      entries.forEach((entry, i) => {
        const value = (entry as Record<string, unknown>)[key];
        if (seen.has(value)) {
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `duplicate ${key} ${JSON.stringify(value)}: each entry needs a unique ${key}`,
          });
        }
        seen.add(value);
      });
    });
}

/** A Kubernetes object name (RFC 1123 subdomain, as metadata.name requires). */
export const objectName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    message:
      'must be a lowercase RFC 1123 name: a-z, 0-9, "-" and ".", starting and ending with a-z or 0-9',
  });

/** A short identifier (RFC 1123 label): rule names, compliance tags. */
export const labelName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    message:
      'must be a lowercase RFC 1123 label: a-z, 0-9 and "-", starting and ending with a-z or 0-9',
  });

export const DURATION_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;

/** A Go-style duration such as `500ms`, `30s`, `2m` or `1h30m`. */
export const duration = z.string().max(32).regex(DURATION_PATTERN, {
  message: 'must be a duration such as "500ms", "30s", "2m" or "1h30m"',
});

/**
 * Node's timers hold a signed 32-bit millisecond count: a longer delay
 * (about 24.8 days) fires at once, with a warning. `timeouts.total: 1000h`
 * failed every request at once with 504 before durations were bounded.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration with bounds, enforced twice like a cross-field rule: CEL in the
 * CRD (`duration()` parses the same Go syntax) and a zod check offline. Every
 * duration in the API has bounds well inside what a timer can hold.
 */
export function boundedDuration(bounds: { min: string; max: string }) {
  const minMs = durationToMs(bounds.min);
  const maxMs = durationToMs(bounds.max);
  if (maxMs >= MAX_TIMER_MS) throw new Error(`duration bound ${bounds.max} overflows a timer`);
  const message = `must be between ${bounds.min} and ${bounds.max}`;
  return duration
    .meta({
      'x-kubernetes-validations': [
        {
          rule: `duration(self) >= duration('${bounds.min}') && duration(self) <= duration('${bounds.max}')`,
          message,
        },
      ],
    })
    .refine(
      (value) => {
        if (!DURATION_PATTERN.test(value)) return true; // the pattern's message says why
        // Unrounded, so "86400000.4ms" is over 24h here as it is for the API server.
        const ms = exactDurationMs(value);
        return ms >= minMs && ms <= maxMs;
      },
      { error: (issue) => `${message}, not ${String(issue.input)}` },
    );
}

/** Upstream timeouts, shared by ModelBackend and ModelRoute so both bound them alike. */
export const connectTimeout = boundedDuration({ min: '1ms', max: '10m' });
export const firstTokenTimeout = boundedDuration({ min: '1ms', max: '1h' });
export const totalTimeout = boundedDuration({ min: '1ms', max: '24h' });

/**
 * A delay safe to hand to setTimeout: within [min, MAX_TIMER_MS]. Tables
 * compiled from the bounded schema never need it; a table pushed by other
 * means (the admin API) or a flag parsed elsewhere must not overflow a timer.
 */
export function timerMs(ms: number, min = 0): number {
  if (!Number.isFinite(ms)) return MAX_TIMER_MS;
  return Math.min(MAX_TIMER_MS, Math.max(min, Math.round(ms)));
}

/** Parses a duration string (already validated by `duration`) into milliseconds. */
export function durationToMs(value: string): number {
  if (!DURATION_PATTERN.test(value)) {
    throw new Error(`invalid duration "${value}": use forms like "500ms", "30s", "2m" or "1h30m"`);
  }
  return Math.round(exactDurationMs(value));
}

/** The duration in milliseconds, unrounded: bounds compare it as CEL's duration() does. */
function exactDurationMs(value: string): number {
  const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, amount, , unit] of value.matchAll(/([0-9]+(\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * (unitMs[unit as string] ?? 0);
  }
  return total;
}

/**
 * A label key: an optional DNS-subdomain prefix and "/", then a name of at
 * most 63 characters (alphanumerics, "-", "_", "."), as the API server checks
 * labels. A selector naming an impossible key or value selects nothing, so it
 * is refused instead (issue 11 class 12).
 */
const LABEL_KEY =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';
const LABEL_KEY_MESSAGE =
  'must be a label key: an optional DNS prefix and "/", then at most 63 of a-z, A-Z, 0-9, "-", "_", ".", starting and ending alphanumeric';
const MAX_MATCH_LABELS = 64;

const labelKey = z
  .string()
  .min(1)
  .max(317)
  .regex(new RegExp(LABEL_KEY), { message: LABEL_KEY_MESSAGE });
const labelValue = z.string().max(63).regex(new RegExp(LABEL_VALUE), {
  message:
    'must be a label value: at most 63 of a-z, A-Z, 0-9, "-", "_", ".", starting and ending alphanumeric (or empty)',
});

/** Standard Kubernetes label selector. */
export const labelSelector = withCrossFieldRules(
  z
    .strictObject({
      matchLabels: z
        .record(z.string(), labelValue)
        .meta({ maxProperties: MAX_MATCH_LABELS })
        .optional()
        .describe('Labels a proxy pod must carry, all of them.'),
      matchExpressions: z
        .array(
          z.strictObject({
            key: labelKey.describe('Label key.'),
            operator: z
              .enum(['In', 'NotIn', 'Exists', 'DoesNotExist'])
              .describe('How the key relates to values.'),
            values: z
              .array(labelValue)
              .max(64)
              .optional()
              .describe('Values for In/NotIn; must be empty for Exists/DoesNotExist.'),
          }),
        )
        .max(16)
        .optional()
        .describe('Set-based requirements, all of which must hold.'),
    })
    .describe('A Kubernetes label selector.'),
  [
    {
      rule: `!has(self.matchLabels) || size(self.matchLabels) <= ${MAX_MATCH_LABELS}`,
      message: `matchLabels may hold at most ${MAX_MATCH_LABELS} labels`,
      fieldPath: '.matchLabels',
      holds: (s) => Object.keys(s.matchLabels ?? {}).length <= MAX_MATCH_LABELS,
    },
    {
      rule: `!has(self.matchLabels) || self.matchLabels.all(k, k.matches('${LABEL_KEY}'))`,
      message: `every matchLabels key ${LABEL_KEY_MESSAGE}`,
      fieldPath: '.matchLabels',
      holds: (s) => Object.keys(s.matchLabels ?? {}).every((k) => new RegExp(LABEL_KEY).test(k)),
    },
    {
      rule: "!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator == 'In' || e.operator == 'NotIn' ? has(e.values) && size(e.values) > 0 : !has(e.values) || size(e.values) == 0)",
      message:
        'matchExpressions: In and NotIn need at least one value; Exists and DoesNotExist take none',
      fieldPath: '.matchExpressions',
      holds: (s) =>
        (s.matchExpressions ?? []).every((e) =>
          e.operator === 'In' || e.operator === 'NotIn'
            ? (e.values ?? []).length > 0
            : (e.values ?? []).length === 0,
        ),
    },
  ],
);
export type LabelSelector = z.infer<typeof labelSelector>;

/**
 * A status condition, following the Kubernetes API conventions
 * (metav1.Condition): PascalCase type, CamelCase reason, and a
 * lastTransitionTime that changes only when status changes.
 */
export const condition = z.strictObject({
  type: z.string().min(1).max(316).describe('Condition type in PascalCase, e.g. Ready.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe('Machine-readable CamelCase reason for the last transition.'),
  message: z.string().max(32768).default('').describe('Human-readable details.'),
  lastTransitionTime: z.string().describe('When status last changed (RFC 3339).'),
  observedGeneration: z
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('The metadata.generation this condition was computed from.'),
});
export type Condition = z.infer<typeof condition>;

export const conditions = listMap(condition, 'type')
  .max(16)
  .describe('Current state, one entry per condition type.');

/** Object metadata as far as modelroute reads it; the API server owns the rest. */
export const objectMeta = z
  .looseObject({
    name: objectName,
    namespace: objectName.optional(),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.string().optional(),
    uid: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .describe('Standard object metadata.');

/** Health of a backend as observed by probes and proxies. */
export const healthState = z.enum(['Healthy', 'Unhealthy', 'Unknown']);
export type HealthState = z.infer<typeof healthState>;

/** Non-negative integer counter, at most 2^53 - 1 (JavaScript's exact integers), in the CRD too. */
export const count = z.int().min(0);
