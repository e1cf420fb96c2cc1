/**
 * Hygiene for values that come from clients: control characters (Postgres stores no NUL in text or jsonb,
 * and no name, credential or query parameter legitimately carries a C0 control), JSON nested without bound,
 * and strings written to the usage log.
 */
import { Invalid } from './model/errors.js';

/** C0 controls and DEL. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_ALL = /[\u0000-\u001f\u007f]/g;

/** JSON bodies deeper than this are refused (no API body of Quay's nests beyond a handful of levels). */
export const MAX_JSON_DEPTH = 64;

/** Longest string kept in a usage-log entry; longer ones are cut and marked. */
export const MAX_LOGGED_STRING = 1024;

/** A TypeBox/JSON-schema pattern for strings without control characters (names, credentials). */
export const NO_CONTROL_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';

export function hasControlChars(s: string): boolean {
  return CONTROL.test(s);
}

/** A client-input error: 400 in whichever protocol the request came in. */
export function invalidInput(message: string): Invalid {
  return new Invalid('request', message);
}

/** Refuses `value` when it holds a control character; `what` names it in the error. */
export function requireNoControl(value: string, what: string): void {
  if (hasControlChars(value)) throw invalidInput(`${what} contains a control character`);
}

/** The deepest nesting of arrays and objects in JSON text, stopping as soon as `limit` is passed. */
function depthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * JSON.parse for request bodies: invalid JSON, nesting beyond MAX_JSON_DEPTH, and NUL in any key or string
 * (which Postgres cannot store) are each a 400 with a message saying which.
 */
export function parseUntrustedJson(text: string): unknown {
  if (depthExceeds(text, MAX_JSON_DEPTH)) throw invalidInput(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text, (key, value) => {
      if (key.includes('\u0000') || (typeof value === 'string' && value.includes('\u0000'))) throw invalidInput('JSON string contains a NUL character');
      return value;
    });
  } catch (err) {
    if (err instanceof Invalid) throw err;
    throw invalidInput('Invalid JSON body');
  }
}

/** A string fit for the usage log: control characters replaced by U+FFFD, at most MAX_LOGGED_STRING characters. */
export function sanitizeLogString(s: string): string {
  const clean = s.replace(CONTROL_ALL, '\ufffd');
  return clean.length > MAX_LOGGED_STRING ? `${clean.slice(0, MAX_LOGGED_STRING)}…[${clean.length - MAX_LOGGED_STRING} more]` : clean;
}

/** Every string (keys too) of log metadata sanitised; depth is bounded by the callers, which build it. */
export function sanitizeLogValue(value: unknown): unknown {
  if (typeof value === 'string') return sanitizeLogString(value);
  if (Array.isArray(value)) return value.map(sanitizeLogValue);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [sanitizeLogString(k), sanitizeLogValue(v)]));
  }
  return value;
}
