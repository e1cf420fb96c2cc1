/**
 * Quay's REST API error shape (endpoints/exception.py ApiException.to_dict): `{type, title, status, detail,
 * error_message, error_type}` and the exception's payload; the handlers Quay answers with flask-restful's
 * `{message}` (aborts) or `{detail}` use those shapes instead (see ApiError.shape).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { DomainError, UNAVAILABLE_RETRY_SECONDS, type AnyDomainError } from '../../model/errors.js';

export type ApiErrorType =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'expired_token'
  | 'fresh_login_required'
  | 'not_found'
  | 'tag_immutable'
  | 'downstream_issue'
  | 'internal_error'
  | 'feature_not_implemented';

/** What `GET /api/v1/error/{type}` says about each error type this API answers with (Quay's texts). */
export const ERROR_DESCRIPTIONS: Record<ApiErrorType | 'external_service_timeout' | 'invalid_response' | 'exceeds_license', string> = {
  external_service_timeout: 'An external service timed out. Retrying the request may resolve the issue.',
  invalid_request: 'The request was invalid. It may have contained invalid values or was improperly formatted.',
  invalid_response: 'The response was invalid.',
  invalid_token: 'The access token provided was invalid.',
  expired_token: 'The access token provided has expired.',
  insufficient_scope: 'The access token did not have sufficient scope to access the requested resource.',
  fresh_login_required: 'The action requires a fresh login to succeed.',
  exceeds_license: 'The action was refused because the current license does not allow it.',
  not_found: 'The resource was not found.',
  downstream_issue: 'An error occurred in a downstream service.',
  tag_immutable: 'The tag is immutable and cannot be changed or deleted.',
  internal_error: 'The server failed to handle the request. Retrying the request may resolve the issue.',
  feature_not_implemented: 'The feature this request needs is enabled in the configuration but not implemented by this registry.',
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: ApiErrorType,
    message: string,
    readonly extra: Record<string, unknown> = {},
    /**
     * `problem`: Quay's ApiException body; `message`: the `{message}` body of Quay's flask-restful aborts;
     * `detail`: the `{detail}` body Quay's changestate and mirror handlers return.
     */
    readonly shape: 'problem' | 'message' | 'detail' = 'problem',
  ) {
    super(message);
  }
  /** Response headers the error carries (Retry-After). */
  headers: Record<string, string> = {};
}

/** An error Quay's handler returns as `{"detail": ...}` (changestate, mirror). */
export const detailError = (status: number, message: string) => new ApiError(status, 'invalid_request', message, {}, 'detail');

/** An error Quay answers with flask-restful's `{"message": ...}` body (plus `extra` keys). */
export const messageError = (status: number, message: string, extra: Record<string, unknown> = {}) => new ApiError(status, 'internal_error', message, extra, 'message');

/**
 * For `.catch()` where Quay lets its data model's refusal reach the DataModelException handler
 * (endpoints/decorated.py handle_dme): an invalid input becomes 400 `{message}`; anything else goes on.
 */
export function quayDataModelError(e: unknown): never {
  throw e instanceof DomainError && e.kind === 'invalid' ? messageError(400, e.message) : e;
}

export const badRequest = (message: string, extra?: Record<string, unknown>) => new ApiError(400, 'invalid_request', message, extra);
export const notFound = (message = 'Not Found') => new ApiError(404, 'not_found', message);
export const unauthorized = (message = 'Unauthorized') => new ApiError(401, 'invalid_token', message);
export const forbidden = (message = 'Unauthorized') => new ApiError(403, 'insufficient_scope', message);

/** The text Quay's disallow_for_non_normal_repositories answers with. */
const repositoryStateMessage = (state: string) => `Repository is in read only or mirror mode: ${state}`;

/** The one mapping of domain errors (model/errors.ts) to the REST API's statuses and error bodies. */
export function toApiError(err: DomainError): ApiError {
  const e = err as AnyDomainError;
  switch (e.kind) {
    case 'unauthenticated':
      return unauthorized(e.message);
    case 'not_found':
      return new ApiError(404, 'not_found', e.message);
    case 'invalid':
      return badRequest(e.message);
    case 'conflict':
      return new ApiError(409, 'invalid_request', e.message);
    case 'too_large':
      return new ApiError(413, 'invalid_request', e.message);
    case 'denied':
    case 'quota_exceeded':
      return new ApiError(403, 'invalid_request', e.message);
    case 'read_only':
      // Quay: 503 with `is_readonly` in read-only mode, 503 `{message}` for a repository that is not NORMAL.
      if (e.reason === 'repository_state') return messageError(503, repositoryStateMessage(e.repository?.state ?? 'READ_ONLY'));
      return messageError(503, e.message, e.reason === 'registry_readonly' ? { is_readonly: true } : {});
    case 'too_many_requests': {
      // Quay answers the build rate with flask-restful's abort(429, message=...): `{message}`.
      const out = e.what === 'queued_builds' ? messageError(429, e.message) : new ApiError(429, 'invalid_request', e.message);
      out.headers['retry-after'] = String(e.retryAfterSeconds);
      return out;
    }
    case 'unsupported':
      // Quay aborts with 501 for what an application repository cannot do.
      if (e.what === 'repository_kind') return new ApiError(501, 'feature_not_implemented', e.message);
      return new ApiError(e.what === 'media_type' ? 415 : e.what === 'operation' ? 405 : 400, 'invalid_request', e.message);
    case 'storage_full':
      return new ApiError(507, 'downstream_issue', e.message);
    case 'unavailable': {
      const out = new ApiError(503, 'downstream_issue', e.message);
      out.headers['retry-after'] = String(UNAVAILABLE_RETRY_SECONDS);
      return out;
    }
  }
}

export function sendApiError(rt: Runtime, req: FastifyRequest, reply: FastifyReply, err: ApiError): void {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  if (err.shape !== 'problem') {
    reply.code(err.status).send({ [err.shape]: err.message, ...err.extra });
    return;
  }
  const host = req.headers.host ?? rt.config.SERVER_HOSTNAME;
  reply.code(err.status).send({
    type: `${rt.config.PREFERRED_URL_SCHEME}://${host}/api/v1/error/${err.errorType}`,
    title: err.errorType,
    status: err.status,
    detail: err.message,
    error_message: err.message,
    error_type: err.errorType,
    ...err.extra,
  });
}
