/**
 * Webhook body templates (Quay's): a JSON document whose strings may hold `${jsonpath}` placeholders over the
 * event payload. A string that is exactly one placeholder takes the value itself; placeholders inside a
 * longer string are stringified (lists joined by ',', a missing value as '(none)'). JSONPath script
 * expressions are disabled.
 */
import { lazyModule } from '../lazy.js';

const jsonPath = lazyModule<typeof import('jsonpath-plus')>('jsonpath-plus');

export class TemplateError extends Error {}

const PLACEHOLDER = /\$\{([^}]*)\}/g;
const WHOLE = /^\$\{([^}]*)\}$/;

/** Parse and check a template (JSON text or a JSON value) by applying it to an empty payload. */
export function parseTemplate(template: unknown): unknown {
  let doc: unknown = template;
  if (typeof template === 'string') {
    try {
      doc = JSON.parse(template);
    } catch (err) {
      throw new TemplateError(`Invalid webhook template: not JSON (${(err as Error).message})`);
    }
  }
  applyTemplate(doc, {});
  return doc;
}

function lookup(path: string, data: unknown): unknown[] {
  const p = path.trim();
  if (p === '') throw new TemplateError('Invalid webhook template: empty placeholder ${}');
  try {
    return jsonPath().JSONPath({ path: p, json: data as object, wrap: true, eval: false }) as unknown[];
  } catch (err) {
    throw new TemplateError(`Invalid webhook template: bad JSONPath '${p}' (${(err as Error).message})`);
  }
}

function stringify(values: unknown[]): string {
  if (values.length === 0) return '(none)';
  const v = values.length === 1 ? values[0] : values;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x))).join(',');
  if (v === null || v === undefined) return '(none)';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function applyTemplate(doc: unknown, data: unknown): unknown {
  if (typeof doc === 'string') {
    const whole = WHOLE.exec(doc);
    if (whole) {
      const values = lookup(whole[1], data);
      return values.length === 0 ? null : values.length === 1 ? values[0] : values;
    }
    return doc.replace(PLACEHOLDER, (_m, path: string) => stringify(lookup(path, data)));
  }
  if (Array.isArray(doc)) return doc.map((x) => applyTemplate(x, data));
  if (doc && typeof doc === 'object') return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, applyTemplate(v, data)]));
  return doc;
}
