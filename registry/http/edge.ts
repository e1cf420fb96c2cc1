/**
 * The first check of every request, before any route reads it: control characters in the decoded path, the
 * query string or Basic credentials are a 400 in the protocol's own error format (each plugin's error handler
 * maps the domain error). Header values with control characters never get this far: Node's HTTP parser
 * refuses them, and clientErrorResponse below words that refusal.
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
      // eslint-disable-next-line no-control-regex -- naming the control characters is the point
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
const SECRET_PARAMS =
  /^(_csrf_token|csrf_token|password|passwd|token|access_token|refresh_token|id_token|client_secret|code|secret|api_key|x-amz-signature|x-amz-credential|signature)$/i;

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

const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request headers did not arrive in time'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'the request headers are too large'],
};

/**
 * Node's HTTP parser refuses some requests before any route sees them (a control byte in a header, a malformed
 * request line, headers too large or too slow). The answer still comes in the protocol's own error format,
 * chosen from the request line's path: the distribution format under /v2, Quay's error JSON elsewhere.
 */
export function clientErrorResponse(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, urlBase: string): string {
  const [status, reason, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request', 'malformed HTTP request'];
  const path = (err.rawPacket?.subarray(0, 4096).toString('latin1').split('\r\n', 1)[0] ?? '').split(' ')[1] ?? '';
  const body = /^\/v2(\/|$)/.test(path)
    ? JSON.stringify({ errors: [{ code: status === 400 ? 'INVALID_REQUEST' : status === 431 ? 'SIZE_INVALID' : 'UNAVAILABLE', message, detail: {} }] })
    : JSON.stringify({
        type: `${urlBase}/api/v1/error/invalid_request`,
        title: 'invalid_request',
        status,
        detail: message,
        error_message: message,
        error_type: 'invalid_request',
        message,
      });
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
