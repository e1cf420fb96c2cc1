/** Media types the registry understands. */
export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  helmConfig: 'application/vnd.cncf.helm.config.v1+json',
} as const;

export const MANIFEST_TYPES: ReadonlySet<string> = new Set([MT.ociManifest, MT.dockerManifest]);
/** The Accept header of a client reading manifests from a registry: images and lists, OCI and Docker. */
export const MANIFEST_ACCEPT = [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ');
export const INDEX_TYPES: ReadonlySet<string> = new Set([MT.ociIndex, MT.dockerList]);
export const DOCKER_TYPES: ReadonlySet<string> = new Set([MT.dockerManifest, MT.dockerList]);
export const SCHEMA1_TYPES: ReadonlySet<string> = new Set([MT.dockerSchema1, MT.dockerSchema1Signed, 'application/json']);

/** Layers a registry is not given the bytes of (they carry `urls`). */
export function isNonDistributable(mediaType: string): boolean {
  return mediaType.includes('.nondistributable.') || mediaType.includes('.foreign.');
}

/** Config types of container images; everything else is an artifact. */
export const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([MT.ociConfig, MT.dockerConfig]);

/**
 * Artifact types accepted without configuration, as Quay ships them (helm, cosign, SBOMs, attestations).
 * Layer types of zstd images need no entry: image configs accept every layer type.
 */
export const BUILTIN_ARTIFACT_TYPES: readonly string[] = [
  'application/vnd.dev.cosign.artifact.sig.v1+json',
  'application/vnd.dev.cosign.artifact.sbom.v1+json',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.in-toto+json',
  'application/vnd.dsse.envelope.v1+json',
  'application/spdx+json',
  'application/vnd.cyclonedx+json',
  'application/vnd.syft+json',
  'application/vnd.oci.source.image.config.v1+json',
  'application/vnd.cncf.openpolicyagent.config.v1+json',
];

/** Strip parameters (`; charset=...`) and lowercase. */
export function baseMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}
