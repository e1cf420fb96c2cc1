/**
 * The first check of every request, before any route reads it: control characters in the decoded path, the
 * query string or Basic credentials are a 400 in the protocol's own error format (each plugin's error handler
 * maps the domain error). Header values with control characters never get this far: Node's HTTP parser
 * answers them with 400 itself.
 */
import type { FastifyRequest } from 'fastify';
import { parseBasic } from '../auth/credentials.js';
import { hasControlChars, invalidInput, requireNoControl } from '../input.js';

export async function checkRequestInput(req: FastifyRequest): Promise<void> {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  let decoded: string | null = null;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Malformed escapes are each protocol's to refuse (the /v2 dispatcher answers NAME_INVALID).
  }
  if (decoded !== null) requireNoControl(decoded, 'the request path');
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(req.url.slice(q + 1))) {
      if (hasControlChars(k) || hasControlChars(v)) throw invalidInput(`query parameter "${k.replace(/[\u0000-\u001f\u007f]/g, '?')}" contains a control character`);
    }
  }
  const basic = parseBasic(req.headers.authorization);
  if (basic) {
    requireNoControl(basic.username, 'the username');
    requireNoControl(basic.password, 'the password');
  }
}

/** Query parameters whose values are secrets: never written to the request log. */
const SECRET_PARAMS = /^(_csrf_token|csrf_token|password|passwd|token|access_token|refresh_token|id_token|client_secret|code|secret|api_key|x-amz-signature|x-amz-credential|signature)$/i;

/** The request URL for the log: values of secret-bearing query parameters replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  let changed = false;
  for (const key of new Set(params.keys())) {
    if (SECRET_PARAMS.test(key)) {
      params.set(key, '[redacted]');
      changed = true;
    }
  }
  return changed ? `${url.slice(0, q)}?${params.toString()}` : url;
}
