/**
 * Request-body validation errors in Quay's words. Quay validates bodies with Python's jsonschema and answers
 * 400 `invalid_request` with the error's text (endpoints/api/__init__.py validate_json_request); scripts
 * match on it. Here Ajv finds the error and this module words it as jsonschema does: the message, then where
 * (`On instance['role']:` and the value). Quay's text also quotes the failing part of its schema between the
 * two; that paragraph is left out.
 */
import type { FastifySchemaValidationError as ErrorObject } from 'fastify';

/** Python's repr() of a JSON value, as jsonschema prints instances. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    const quote = v.includes("'") && !v.includes('"') ? '"' : "'";
    const body = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
    return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
    .join(', ')}}`;
}

/** The value at an Ajv instancePath (a JSON pointer) inside the body, and jsonschema's `['a'][0]` form of the path. */
function at(body: unknown, pointer: string): { value: unknown; path: string } {
  let value = body;
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += Array.isArray(value) ? `[${key}]` : `[${pyRepr(key)}]`;
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  return { value, path };
}

/** jsonschema's text for the first error Ajv reports on a body. */
export function jsonschemaMessage(errors: ErrorObject[], body: unknown): string {
  const first = errors[0];
  if (body === undefined && first.instancePath === '') return 'Missing JSON body';
  const { value, path } = at(body, first.instancePath);
  return `${message(errors, first, pyRepr(value))}\n\nOn instance${path}:\n    ${pyRepr(value)}`;
}

function message(errors: ErrorObject[], first: ErrorObject, repr: string): string {
  // A TypeBox union of literals is Quay's `enum`: Ajv reports one `const` error per branch, then `anyOf`.
  const union = errors.find((e) => e.keyword === 'anyOf' && e.instancePath === first.instancePath);
  if (union) {
    const branches = errors.filter((e) => e.instancePath === first.instancePath && e.keyword !== 'anyOf');
    if (branches.every((e) => e.keyword === 'const')) return `${repr} is not one of ${pyRepr(branches.map((e) => e.params.allowedValue))}`;
    return `${repr} is not valid under any of the given schemas`;
  }
  const p = first.params as Record<string, unknown>;
  switch (first.keyword) {
    case 'required':
      return `${pyRepr(p.missingProperty)} is a required property`;
    case 'type':
      return `${repr} is not of type ${String(p.type)
        .split(',')
        .map((t) => pyRepr(t))
        .join(', ')}`;
    case 'enum':
      return `${repr} is not one of ${pyRepr(p.allowedValues)}`;
    case 'const':
      return `${pyRepr(p.allowedValue)} was expected`;
    case 'minLength':
    case 'minItems':
      return `${repr} is too short`;
    case 'maxLength':
    case 'maxItems':
      return `${repr} is too long`;
    case 'minimum':
      return `${repr} is less than the minimum of ${String(p.limit)}`;
    case 'maximum':
      return `${repr} is greater than the maximum of ${String(p.limit)}`;
    case 'exclusiveMinimum':
      return `${repr} is less than or equal to the minimum of ${String(p.limit)}`;
    case 'exclusiveMaximum':
      return `${repr} is greater than or equal to the maximum of ${String(p.limit)}`;
    case 'pattern':
      return `${repr} does not match ${pyRepr(p.pattern)}`;
    case 'format':
      return `${repr} is not a ${pyRepr(p.format)}`;
    case 'additionalProperties':
      return `Additional properties are not allowed (${pyRepr(p.additionalProperty)} was unexpected)`;
    case 'minProperties':
      return `${repr} does not have enough properties`;
    default:
      return first.message ?? 'Request error.';
  }
}

/**
 * Quay's answer to a query parameter its type refuses (endpoints/api/__init__.py parse_args, flask-restful 0.3.9
 * reqparse Argument.handle_validation_error): `{"message": {"<param>": "<its help text>"}}`, status 400, and no
 * other key. The help text is the parameter's description, which is Quay's help string.
 */
export function reqparseError(error: ErrorObject, querySchema: unknown): { message: Record<string, string> } {
  const name = error.keyword === 'required' ? String((error.params as { missingProperty?: unknown }).missingProperty) : error.instancePath.split('/')[1] || '';
  const props = (querySchema as { properties?: Record<string, { description?: string }> } | undefined)?.properties ?? {};
  return { message: { [name]: props[name]?.description ?? error.message ?? 'Request error.' } };
}
