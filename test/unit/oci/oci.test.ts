import { digestOf, parseDigest, DigestError, EMPTY_BLOB_SHA256 } from '../../../registry/oci/digest.js';
import { parseRepositoryPath, NameError, validTag } from '../../../registry/oci/names.js';
import { parseManifest, ManifestError, referrerArtifactType } from '../../../registry/oci/manifest.js';
import { Value } from '@sinclair/typebox/value';
import { QuayConfigSchema, type QuayConfig } from '../../../config/schema.js';
import { checkArtifactType, type ArtifactPolicy } from '../../../registry/oci/artifacts.js';
import { MT } from '../../../registry/oci/mediatypes.js';
import { parseRange } from '../../../registry/http/v2/blobs.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const opts = { libraryNamespace: 'library', extendedNames: true };

describe('digests', () => {
  test('known digests', () => {
    expect(digestOf(Buffer.alloc(0))).toBe(EMPTY_BLOB_SHA256);
    expect(digestOf(Buffer.from('{}'))).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(digestOf(Buffer.from('a'), 'sha512')).toMatch(/^sha512:[0-9a-f]{128}$/);
  });
  test('malformed and unsupported digests are told apart', () => {
    expect(() => parseDigest('sha256:totallywrong')).toThrow(DigestError);
    expect(() => parseDigest('sha256:' + 'A'.repeat(64))).toThrow(/invalid sha256/);
    try {
      parseDigest('md5:' + 'a'.repeat(32));
      throw new Error('no error');
    } catch (e) {
      expect((e as DigestError).unsupported).toBe(true);
    }
    expect(parseDigest(d('a')).algorithm).toBe('sha256');
  });
});

describe('names', () => {
  test('namespace/name split, library namespace, nesting', () => {
    expect(parseRepositoryPath('alice/app', opts)).toEqual({ namespace: 'alice', name: 'app', full: 'alice/app' });
    expect(parseRepositoryPath('busybox', opts).full).toBe('library/busybox');
    expect(parseRepositoryPath('org/team/app', opts).name).toBe('team/app');
    expect(() => parseRepositoryPath('org/team/app', { ...opts, extendedNames: false })).toThrow(/Nested/);
  });
  test.each([['Alice/app'], ['a/../b'], ['a//b'], ['a/b/'], [''], ['x/' + 'a'.repeat(260)], ['a/-b']])('invalid repository name %p', (name) => {
    expect(() => parseRepositoryPath(name, opts)).toThrow(NameError);
  });
  test('tags', () => {
    expect(validTag('v1.0_rc-1')).toBe(true);
    expect(validTag('.hidden')).toBe(false);
    expect(validTag('a'.repeat(129))).toBe(false);
  });
});

describe('manifests', () => {
  const image = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, digest: d('c'), size: 10 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('1'), size: 5 }],
  };
  const bytes = (o: unknown) => Buffer.from(JSON.stringify(o));

  test('an image manifest parses with its references', () => {
    const m = parseManifest(bytes(image), MT.ociManifest);
    expect(m.isIndex).toBe(false);
    expect(m.layers).toHaveLength(1);
    expect(referrerArtifactType(m)).toBe(MT.ociConfig);
  });
  test('JSON mediaType decides when Content-Type is missing, and must agree when both are set', () => {
    expect(parseManifest(bytes(image), undefined).mediaType).toBe(MT.ociManifest);
    expect(() => parseManifest(bytes(image), MT.dockerManifest)).toThrow(/does not match/);
  });
  test.each([
    ['not JSON', Buffer.from('{nope'), MT.ociManifest, /not valid JSON/],
    ['schema 1', bytes({ schemaVersion: 1, name: 'x' }), MT.dockerSchema1, /schema 1/],
    ['no config', bytes({ schemaVersion: 2, layers: [] }), MT.ociManifest, /config/],
    ['bad digest', bytes({ ...image, layers: [{ mediaType: 'x', digest: 'sha256:zz', size: 1 }] }), MT.ociManifest, /layers\[0\]/],
    ['negative size', bytes({ ...image, config: { ...image.config, size: -1 } }), MT.ociManifest, /size/],
    ['unknown type', bytes(image), 'text/plain', /unsupported manifest media type/],
  ])('%s is refused', (_n, b, ct, msg) => {
    expect(() => parseManifest(b, ct)).toThrow(ManifestError);
    expect(() => parseManifest(b, ct)).toThrow(msg);
  });
  test('an index lists its children', () => {
    const idx = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: d('2'), size: 3 }] };
    const m = parseManifest(bytes(idx), MT.ociIndex);
    expect(m.isIndex).toBe(true);
    expect(m.manifests[0].digest).toBe(d('2'));
    expect(referrerArtifactType(m)).toBeUndefined();
  });
});

describe('artifact policy', () => {
  const policy: ArtifactPolicy = { generalOci: true, helm: true, allowed: { 'application/vnd.example.thing+json': ['application/vnd.example.layer'] } };
  const manifest = (configType: string, layerType = 'application/octet-stream', artifactType?: string) =>
    parseManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.ociManifest,
          ...(artifactType ? { artifactType } : {}),
          config: { mediaType: configType, digest: d('c'), size: 2 },
          layers: [{ mediaType: layerType, digest: d('1'), size: 1 }],
        }),
      ),
      MT.ociManifest,
    );
  test('images, helm, cosign and listed types pass', () => {
    expect(() => checkArtifactType(manifest(MT.ociConfig), policy)).not.toThrow();
    expect(() => checkArtifactType(manifest(MT.helmConfig, 'application/vnd.cncf.helm.chart.content.v1.tar+gzip'), policy)).not.toThrow();
    expect(() => checkArtifactType(manifest(MT.ociEmpty, 'x', 'application/vnd.dev.cosign.artifact.sig.v1+json'), policy)).not.toThrow();
    expect(() => checkArtifactType(manifest('application/vnd.example.thing+json', 'application/vnd.example.layer'), policy)).not.toThrow();
  });
  test('other types are refused with a clear message', () => {
    expect(() => checkArtifactType(manifest('application/vnd.other+json'), policy)).toThrow(/ALLOWED_OCI_ARTIFACT_TYPES/);
    expect(() => checkArtifactType(manifest(MT.ociEmpty, 'x', 'application/vnd.unknown'), policy)).toThrow(/not allowed/);
    expect(() => checkArtifactType(manifest('application/vnd.example.thing+json', 'application/other'), policy)).toThrow(/layer type/);
    expect(() => checkArtifactType(manifest(MT.helmConfig, 'application/tar+gzip'), { ...policy, helm: false })).toThrow(/not allowed/);
  });
  test("Quay 3.8's default ALLOWED_OCI_ARTIFACT_TYPES: SBOM and attestation layers, helm, source images; listed layer types are shared", () => {
    const defaults: ArtifactPolicy = { generalOci: true, helm: true, allowed: (Value.Default(QuayConfigSchema, {}) as QuayConfig).ALLOWED_OCI_ARTIFACT_TYPES };
    for (const layer of ['text/spdx', 'text/spdx+json', 'application/vnd.cyclonedx+json', 'application/vnd.in-toto+json', 'application/vnd.oci.image.layer.v1.tar+zstd']) {
      expect(() => checkArtifactType(manifest(MT.ociConfig, layer), defaults)).not.toThrow();
    }
    // As Quay: a layer type listed for one config type is accepted in every listed type.
    expect(() => checkArtifactType(manifest(MT.helmConfig, 'text/spdx'), defaults)).not.toThrow();
    expect(() => checkArtifactType(manifest('application/vnd.oci.source.image.config.v1+json', 'application/vnd.oci.image.layer.v1.tar+gzip'), defaults)).not.toThrow();
    expect(() => checkArtifactType(manifest(MT.helmConfig, 'application/x-unlisted'), defaults)).toThrow(/layer type "application\/x-unlisted"/);
    expect(() => checkArtifactType(manifest('application/vnd.unknown.config.v1+json', 'text/spdx'), defaults)).toThrow(/ALLOWED_OCI_ARTIFACT_TYPES/);
  });
  test('FEATURE_GENERAL_OCI_SUPPORT off refuses OCI manifests', () => {
    expect(() => checkArtifactType(manifest(MT.ociConfig), { ...policy, generalOci: false })).toThrow(/FEATURE_GENERAL_OCI_SUPPORT/);
  });
});

describe('blob ranges', () => {
  test.each([
    ['bytes=500-1499', { start: 500, end: 1499 }],
    ['bytes=500-', { start: 500, end: 2047 }],
    ['bytes=-500', { start: 1548, end: 2047 }],
    ['bytes=2000-5000', { start: 2000, end: 2047 }],
    ['bytes=500-0', 'unsatisfiable'],
    ['bytes=5000-10000', 'unsatisfiable'],
    ['items=1-2', null],
  ])('%s', (header, expected) => {
    expect(parseRange(header, 2048)).toEqual(expected);
  });
});
