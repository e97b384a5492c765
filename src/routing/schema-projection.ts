// Projects a JSON value onto a JSON Schema: keys the schema does not list are
// dropped at every level, and (when asked) the rest is checked against the
// keywords zod's toJSONSchema writes. Table formats are described this way:
// the tolerant reader drops what it does not know before its strict parse, and
// the controller projects a table onto the frozen schema of an older format.

/** The JSON Schema subset `z.toJSONSchema` produces for routing tables. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: readonly JsonSchema[];
  enum?: readonly unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
}

export type ProjectionResult = { ok: true; value: unknown } | { ok: false; errors: string[] };

type Path = readonly (string | number)[];

const MAX_ERRORS = 10;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function where(path: Path): string {
  return path.length === 0 ? '(table)' : path.join('.');
}

function typeHolds(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
    case 'boolean':
      return typeof value === type;
    case 'object':
      return isRecord(value);
    case 'array':
      return Array.isArray(value);
    case 'null':
      return value === null;
    default:
      return true; // a keyword this subset does not check
  }
}

const patterns = new Map<string, RegExp>();
function pattern(source: string): RegExp {
  let re = patterns.get(source);
  if (re === undefined) {
    re = new RegExp(source);
    patterns.set(source, re);
  }
  return re;
}

/** The first problem with a value's own keywords (not its members'), if any. */
function leafProblem(value: unknown, s: JsonSchema): string | undefined {
  if (s.type !== undefined && !typeHolds(value, s.type)) return `expected ${s.type}`;
  if ('const' in s && value !== s.const) return `expected ${JSON.stringify(s.const)}`;
  if (s.enum && !s.enum.includes(value))
    return `${JSON.stringify(value)} is not one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) return `must be at least ${s.minimum}`;
    if (s.maximum !== undefined && value > s.maximum) return `must be at most ${s.maximum}`;
    if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum)
      return `must be more than ${s.exclusiveMinimum}`;
    if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum)
      return `must be less than ${s.exclusiveMaximum}`;
  }
  if (typeof value === 'string') {
    if (s.minLength !== undefined && value.length < s.minLength)
      return `must be at least ${s.minLength} characters`;
    if (s.maxLength !== undefined && value.length > s.maxLength)
      return `must be at most ${s.maxLength} characters`;
    if (s.pattern !== undefined && !pattern(s.pattern).test(value))
      return `must match ${s.pattern}`;
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems)
      return `must hold at least ${s.minItems} items`;
    if (s.maxItems !== undefined && value.length > s.maxItems)
      return `must hold at most ${s.maxItems} items`;
  }
  if (isRecord(value) && s.maxProperties !== undefined) {
    if (Object.keys(value).length > s.maxProperties)
      return `must hold at most ${s.maxProperties} keys`;
  }
  return undefined;
}

function project(
  value: unknown,
  s: JsonSchema,
  path: Path,
  validate: boolean,
  errors: string[],
): unknown {
  if (s.anyOf) {
    for (const option of s.anyOf) {
      const own: string[] = [];
      const projected = project(value, option, path, true, own);
      if (own.length === 0) return projected;
    }
    if (validate) errors.push(`${where(path)}: matches none of the forms this format allows`);
    return value;
  }
  if (validate) {
    const problem = leafProblem(value, s);
    if (problem !== undefined) errors.push(`${where(path)}: ${problem}`);
  }
  if (isRecord(value) && (s.properties !== undefined || isRecord(s.additionalProperties))) {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) {
      const badName = validate && s.propertyNames ? leafProblem(key, s.propertyNames) : undefined;
      if (badName !== undefined) errors.push(`${where([...path, key])}: key ${badName}`);
      const known = s.properties?.[key];
      if (known) out[key] = project(member, known, [...path, key], validate, errors);
      else if (isRecord(s.additionalProperties))
        out[key] = project(member, s.additionalProperties, [...path, key], validate, errors);
      // Otherwise a key the schema does not know: dropped.
    }
    if (validate) {
      for (const key of s.required ?? []) {
        if (!(key in value)) errors.push(`${where([...path, key])}: required`);
      }
    }
    return out;
  }
  if (Array.isArray(value) && s.items) {
    const items = s.items;
    return value.map((item: unknown, i) => project(item, items, [...path, i], validate, errors));
  }
  return value;
}

/**
 * `value` with every key `schema` does not list removed, at every level.
 * With `validate`, also each value checked against the schema's keywords
 * (errors name the field); without it, a malformed value is passed through
 * as it is, for a stricter parser to report.
 */
export function projectOntoSchema(
  value: unknown,
  schema: JsonSchema,
  options: { validate: boolean },
): ProjectionResult {
  const errors: string[] = [];
  const projected = project(value, schema, [], options.validate, errors);
  return errors.length === 0
    ? { ok: true, value: projected }
    : { ok: false, errors: errors.slice(0, MAX_ERRORS) };
}
