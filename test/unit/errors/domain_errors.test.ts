/**
 * Every domain error class (model/errors.ts) has a mapping in both protocols, and the mappings answer what the
 * clients of each protocol expect (issue 13, finding 9): the distribution API's code and status, and the REST
 * API's status and Quay error body. A class added without a sample here fails the first test.
 */
import * as domain from '../../../registry/model/errors.js';
import { ERROR_STATUS, RegistryError } from '../../../registry/errors.js';
import { toRegistryError } from '../../../registry/http/v2/errors.js';
import { ApiError, toApiError } from '../../../registry/http/api/errors.js';
import { READ_ONLY_MESSAGE } from '../../../registry/model/write_gate.js';
import { DigestError } from '../../../registry/oci/digest.js';
import { ManifestError } from '../../../registry/oci/manifest.js';

type Expect = { v2: { code: string; status: number }; api: { status: number; body?: Record<string, unknown> } };

/** One or more instances of every class, with the rendering each protocol must give it. */
const SAMPLES: [domain.DomainError, Expect][] = [
  [new domain.Unauthenticated('x'), { v2: { code: 'UNAUTHORIZED', status: 401 }, api: { status: 401 } }],
  [new domain.NotFound('blob', 'x', { digest: 'sha256:1' }), { v2: { code: 'BLOB_UNKNOWN', status: 404 }, api: { status: 404 } }],
  [new domain.NotFound('manifest', 'x'), { v2: { code: 'MANIFEST_UNKNOWN', status: 404 }, api: { status: 404 } }],
  [new domain.NotFound('repository', 'x'), { v2: { code: 'NAME_UNKNOWN', status: 404 }, api: { status: 404 } }],
  [new domain.NotFound('upload', 'x'), { v2: { code: 'BLOB_UPLOAD_UNKNOWN', status: 404 }, api: { status: 404 } }],
  [new domain.NotFound('namespace', 'x'), { v2: { code: 'NAME_UNKNOWN', status: 404 }, api: { status: 404 } }],
  [new domain.NotFound('resource', 'x'), { v2: { code: 'NAME_UNKNOWN', status: 404 }, api: { status: 404 } }],
  [new domain.Invalid('request', 'x'), { v2: { code: 'INVALID_REQUEST', status: 400 }, api: { status: 400 } }],
  [new domain.Invalid('name', 'x'), { v2: { code: 'NAME_INVALID', status: 400 }, api: { status: 400 } }],
  [new domain.Invalid('tag', 'x'), { v2: { code: 'TAG_INVALID', status: 400 }, api: { status: 400 } }],
  [new domain.Invalid('digest', 'x'), { v2: { code: 'DIGEST_INVALID', status: 400 }, api: { status: 400 } }],
  [new domain.Invalid('manifest', 'x'), { v2: { code: 'MANIFEST_INVALID', status: 400 }, api: { status: 400 } }],
  [new domain.Invalid('size', 'x'), { v2: { code: 'SIZE_INVALID', status: 400 }, api: { status: 400 } }],
  [new domain.Invalid('range', 'x'), { v2: { code: 'RANGE_INVALID', status: 416 }, api: { status: 400 } }],
  [new domain.Invalid('upload', 'x'), { v2: { code: 'BLOB_UPLOAD_INVALID', status: 400 }, api: { status: 400 } }],
  [new domain.Invalid('reference', 'x'), { v2: { code: 'MANIFEST_BLOB_UNKNOWN', status: 400 }, api: { status: 400 } }],
  [new domain.Conflict('x'), { v2: { code: 'RANGE_INVALID', status: 416 }, api: { status: 409 } }],
  [new domain.TooLarge('x'), { v2: { code: 'SIZE_INVALID', status: 413 }, api: { status: 413 } }],
  [new domain.Denied('x'), { v2: { code: 'DENIED', status: 403 }, api: { status: 403 } }],
  [new domain.QuotaExceeded('x'), { v2: { code: 'DENIED', status: 403 }, api: { status: 403 } }],
  [
    new domain.ReadOnly('registry_readonly', READ_ONLY_MESSAGE),
    { v2: { code: 'DENIED', status: 405 }, api: { status: 503, body: { message: READ_ONLY_MESSAGE, is_readonly: true } } },
  ],
  [new domain.ReadOnly('pushes_disabled', 'x'), { v2: { code: 'DENIED', status: 405 }, api: { status: 503, body: { message: 'x' } } }],
  [
    new domain.ReadOnly('repository_state', 'repository app is mirrored', { name: 'app', state: 'MIRROR' }),
    { v2: { code: 'DENIED', status: 403 }, api: { status: 503, body: { message: 'Repository is in read only or mirror mode: MIRROR' } } },
  ],
  [new domain.TooManyRequests('x', 7, 'login_attempts'), { v2: { code: 'TOOMANYREQUESTS', status: 429 }, api: { status: 429 } }],
  [new domain.TooManyRequests('x', 1, 'queued_builds'), { v2: { code: 'TOOMANYREQUESTS', status: 429 }, api: { status: 429, body: { message: 'x' } } }],
  [new domain.Unsupported('digest_algorithm', 'x'), { v2: { code: 'UNSUPPORTED', status: 400 }, api: { status: 400 } }],
  [new domain.Unsupported('media_type', 'x'), { v2: { code: 'MANIFEST_INVALID', status: 415 }, api: { status: 415 } }],
  [new domain.Unsupported('operation', 'x'), { v2: { code: 'UNSUPPORTED', status: 405 }, api: { status: 405 } }],
  [new domain.Unsupported('repository_kind', 'x'), { v2: { code: 'UNSUPPORTED', status: 405 }, api: { status: 501 } }],
  [new domain.StorageFull('x'), { v2: { code: 'UNAVAILABLE', status: 507 }, api: { status: 507 } }],
  [new domain.Unavailable('database', 'x'), { v2: { code: 'UNAVAILABLE', status: 503 }, api: { status: 503 } }],
];

type DomainClass = abstract new (...a: never[]) => domain.DomainError;
const domainClasses = (Object.entries(domain) as [string, unknown][]).filter(
  (e): e is [string, DomainClass] => typeof e[1] === 'function' && (e[1] as DomainClass).prototype instanceof domain.DomainError,
);

test('every domain error class has samples, and every kind is covered', () => {
  expect(domainClasses.length).toBeGreaterThanOrEqual(10);
  for (const [name, cls] of domainClasses) expect({ name, sampled: SAMPLES.some(([e]) => e instanceof cls) }).toEqual({ name, sampled: true });
  const kinds = new Set(SAMPLES.map(([e]) => e.kind));
  expect(kinds.size).toBe(domainClasses.length);
});

test.each(SAMPLES.map(([e, x]) => [`${e.constructor.name}(${JSON.stringify(Object.values(e).filter((v) => typeof v === 'string'))})`, e, x] as const))(
  '%s maps on /v2 and /api/v1',
  (_n, e, x) => {
    const v2 = toRegistryError(e);
    expect(v2).toBeInstanceOf(RegistryError);
    expect({ code: v2.code, status: v2.status }).toEqual(x.v2);
    expect(Object.keys(ERROR_STATUS)).toContain(v2.code);
    expect(v2.message).toBe(e.message);
    if (e.detail) expect(v2.detail).toEqual(e.detail);

    const api = toApiError(e);
    expect(api).toBeInstanceOf(ApiError);
    expect(api.status).toBe(x.api.status);
    if (x.api.body) expect({ [api.shape]: api.message, ...api.extra }).toEqual(x.api.body);
    else expect(api.message).toBe(e.message);
  },
);

test('a login backoff carries Retry-After on both protocols', () => {
  const e = new domain.TooManyRequests('slow down', 12, 'login_attempts');
  expect(toRegistryError(e).headers).toEqual({ 'retry-after': '12' });
  expect(toApiError(e).headers).toEqual({ 'retry-after': '12' });
});

test('digest and manifest parser errors become Invalid or Unsupported', () => {
  expect(domain.digestError(new DigestError('bad'))).toBeInstanceOf(domain.Invalid);
  expect(domain.digestError(new DigestError('md5', true))).toMatchObject({ kind: 'unsupported', what: 'digest_algorithm' });
  expect(domain.manifestError(new ManifestError('bad'))).toMatchObject({ kind: 'invalid', field: 'manifest' });
  expect(domain.manifestError(new ManifestError('text/plain', true))).toMatchObject({ kind: 'unsupported', what: 'media_type' });
});
