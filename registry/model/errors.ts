/**
 * Domain errors: what went wrong, in the domain's terms. Model, auth, proxy and input code throw these and
 * nothing protocol-specific; each protocol maps them to its own format exactly once (the distribution API in
 * http/v2/errors.ts, the REST API in http/api/errors.ts). Both mappers switch over `kind` exhaustively, so a
 * new class without a mapping does not compile.
 */
import type { DigestError } from '../oci/digest.js';
import type { ManifestError } from '../oci/manifest.js';

export type DomainErrorKind =
  | 'unauthenticated'
  | 'not_found'
  | 'invalid'
  | 'conflict'
  | 'too_large'
  | 'denied'
  | 'quota_exceeded'
  | 'read_only'
  | 'too_many_requests'
  | 'unsupported'
  | 'storage_full'
  | 'unavailable';

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
  constructor(
    message: string,
    /** Machine-readable facts a protocol may pass on (the v2 error's `detail`). */
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The credentials presented cannot authenticate this way (not a wrong password: that is simply no principal). */
export class Unauthenticated extends DomainError {
  readonly kind = 'unauthenticated';
}

/** What was looked for. */
export type MissingThing = 'blob' | 'manifest' | 'repository' | 'upload' | 'namespace' | 'resource';

export class NotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(
    readonly what: MissingThing,
    message: string,
    detail?: Record<string, unknown>,
  ) {
    super(message, detail);
  }
}

/**
 * Which part of the input is wrong. `reference`: a manifest names content the repository does not hold;
 * `range`: a chunk does not continue the upload; `upload`: the session's staged bytes are unusable.
 */
export type InvalidField = 'request' | 'name' | 'tag' | 'digest' | 'manifest' | 'size' | 'range' | 'upload' | 'reference';

export class Invalid extends DomainError {
  readonly kind = 'invalid';
  constructor(
    readonly field: InvalidField,
    message: string,
    detail?: Record<string, unknown>,
  ) {
    super(message, detail);
  }
}

/** Another request changed the same thing first (an upload session appended to concurrently). */
export class Conflict extends DomainError {
  readonly kind = 'conflict';
}

/** The content is larger than the registry accepts (FEATURE/MAXIMUM_LAYER_SIZE). */
export class TooLarge extends DomainError {
  readonly kind = 'too_large';
}

/** The principal may not do this here (not a permission grant missing: a rule of the target refuses it). */
export class Denied extends DomainError {
  readonly kind = 'denied';
}

/** The namespace's quota rejects the write. */
export class QuotaExceeded extends DomainError {
  readonly kind = 'quota_exceeded';
}

export type ReadOnlyReason = 'registry_readonly' | 'pushes_disabled' | 'repository_state';

/** A write refused because the registry or the repository takes none now (the write gate). */
export class ReadOnly extends DomainError {
  readonly kind = 'read_only';
  constructor(
    readonly reason: ReadOnlyReason,
    message: string,
    /** The repository whose state refused the write (`repository_state` only). */
    readonly repository: { name: string; state: string } | null = null,
  ) {
    super(message);
  }
}

export class TooManyRequests extends DomainError {
  readonly kind = 'too_many_requests';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    /** What is limited: password attempts of an account, or queued builds of a namespace. */
    readonly what: 'login_attempts' | 'queued_builds',
  ) {
    super(message);
  }
}

/**
 * What is not supported: a digest algorithm, a (manifest/artifact) media type, an operation here, or the
 * operation on this kind of repository (builds of an application repository).
 */
export type UnsupportedThing = 'digest_algorithm' | 'media_type' | 'operation' | 'repository_kind';

/** Quay's answer to registry operations under ACCOUNT_RECOVERY_MODE. */
export const ACCOUNT_RECOVERY_MESSAGE = 'Quay running for account recoveries only.';

export class Unsupported extends DomainError {
  readonly kind = 'unsupported';
  constructor(
    readonly what: UnsupportedThing,
    message: string,
  ) {
    super(message);
  }
}

/** The blob storage has no room left; nothing was published. */
export class StorageFull extends DomainError {
  readonly kind = 'storage_full';
}

/** Seconds a client is asked to wait (Retry-After) after a 503 for an unavailable service. */
export const UNAVAILABLE_RETRY_SECONDS = 2;

/** A service the registry depends on (the database, blob storage, Redis) cannot be reached now; the client should retry. */
export class Unavailable extends DomainError {
  readonly kind = 'unavailable';
  constructor(
    readonly service: 'database' | 'storage' | 'redis' | 'mail',
    message: string,
  ) {
    super(message);
  }
}

/** Every domain error class; the protocol mappers switch over this union, so each must map all of them. */
export type AnyDomainError =
  Unauthenticated | NotFound | Invalid | Conflict | TooLarge | Denied | QuotaExceeded | ReadOnly | TooManyRequests | Unsupported | StorageFull | Unavailable;

/** A digest the client named: malformed, or of an algorithm this registry does not implement. */
export function digestError(e: DigestError): Invalid | Unsupported {
  return e.unsupported ? new Unsupported('digest_algorithm', e.message) : new Invalid('digest', e.message);
}

/** A manifest refused by the parser: malformed, or of a media type this registry does not store. */
export function manifestError(e: ManifestError): Invalid | Unsupported {
  return e.unsupported ? new Unsupported('media_type', e.message) : new Invalid('manifest', e.message);
}
