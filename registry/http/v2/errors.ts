/** The one mapping of domain errors (model/errors.ts) to the distribution API's error codes and statuses. */
import { RegistryError, type ErrorCode } from '../../errors.js';
import { UNAVAILABLE_RETRY_SECONDS, type AnyDomainError, type DomainError, type InvalidField, type MissingThing } from '../../model/errors.js';

const MISSING: Record<MissingThing, ErrorCode> = {
  blob: 'BLOB_UNKNOWN',
  manifest: 'MANIFEST_UNKNOWN',
  repository: 'NAME_UNKNOWN',
  upload: 'BLOB_UPLOAD_UNKNOWN',
  namespace: 'NAME_UNKNOWN',
  resource: 'NAME_UNKNOWN',
};

const INVALID: Record<InvalidField, ErrorCode> = {
  request: 'INVALID_REQUEST',
  name: 'NAME_INVALID',
  tag: 'TAG_INVALID',
  digest: 'DIGEST_INVALID',
  manifest: 'MANIFEST_INVALID',
  size: 'SIZE_INVALID',
  range: 'RANGE_INVALID',
  upload: 'BLOB_UPLOAD_INVALID',
  reference: 'MANIFEST_BLOB_UNKNOWN',
};

export function toRegistryError(err: DomainError): RegistryError {
  const e = err as AnyDomainError;
  const detail = e.detail;
  switch (e.kind) {
    case 'unauthenticated':
      return new RegistryError('UNAUTHORIZED', e.message, { detail });
    case 'not_found':
      return new RegistryError(MISSING[e.what], e.message, { status: 404, detail });
    case 'invalid':
      return new RegistryError(INVALID[e.field], e.message, { detail });
    case 'conflict':
      return new RegistryError('RANGE_INVALID', e.message, { detail });
    case 'too_large':
      return new RegistryError('SIZE_INVALID', e.message, { status: 413, detail });
    case 'denied':
    case 'quota_exceeded':
      return new RegistryError('DENIED', e.message, { detail });
    case 'read_only':
      // Quay answers 405 when the whole registry takes no pushes; a repository's state is a 403.
      return new RegistryError('DENIED', e.message, { status: e.reason === 'repository_state' ? 403 : 405 });
    case 'too_many_requests':
      return new RegistryError('TOOMANYREQUESTS', e.message, { headers: { 'retry-after': String(e.retryAfterSeconds) } });
    case 'unsupported':
      if (e.what === 'media_type') return new RegistryError('MANIFEST_INVALID', e.message, { status: 415 });
      return new RegistryError('UNSUPPORTED', e.message, { status: e.what === 'digest_algorithm' ? 400 : 405 });
    case 'storage_full':
      return new RegistryError('UNAVAILABLE', e.message, { status: 507 });
    case 'unavailable':
      return new RegistryError('UNAVAILABLE', e.message, { status: 503, headers: { 'retry-after': String(UNAVAILABLE_RETRY_SECONDS) } });
  }
}
