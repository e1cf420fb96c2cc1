/** Which OCI artifact types a registry accepts (ALLOWED_OCI_ARTIFACT_TYPES, FEATURE_GENERAL_OCI_SUPPORT). */
import { ManifestError, effectiveConfigType, type ParsedManifest } from './manifest.js';
import { BUILTIN_ARTIFACT_TYPES, DOCKER_TYPES, IMAGE_CONFIG_TYPES, MT } from './mediatypes.js';

export interface ArtifactPolicy {
  generalOci: boolean;
  helm: boolean;
  /** config (or artifact) type -> layer types; `*` as a key or a layer type matches anything. */
  allowed: Record<string, string[]>;
}

const HELM_LAYERS = ['application/tar+gzip', 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', 'application/vnd.cncf.helm.chart.provenance.v1.prov'];

/** Quay's OCI_IMAGE_LAYER_CONTENT_TYPES: accepted in every allowed artifact. */
const OCI_LAYERS = [
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
];

/**
 * Throws ManifestError when the manifest's type is not accepted by the policy. As in Quay 3.8
 * (image/oci/__init__.py register_artifact_type), a listed config type may carry any layer type listed for any
 * type (Quay keeps one list of extra layer types), so a config.yaml written for Quay accepts what Quay accepts.
 */
export function checkArtifactType(m: ParsedManifest, policy: ArtifactPolicy): void {
  if (DOCKER_TYPES.has(m.mediaType)) return;
  if (!policy.generalOci) throw new ManifestError('OCI manifests are disabled on this registry (FEATURE_GENERAL_OCI_SUPPORT is false)', true);
  const type = effectiveConfigType(m);
  if (type === undefined || IMAGE_CONFIG_TYPES.has(type) || type === MT.ociEmpty || BUILTIN_ARTIFACT_TYPES.includes(type)) return;
  const helm = policy.helm && type === MT.helmConfig;
  if (!(type in policy.allowed) && !('*' in policy.allowed) && !helm) {
    throw new ManifestError(`artifact type "${type}" is not allowed on this registry; an administrator can add it to ALLOWED_OCI_ARTIFACT_TYPES`);
  }
  const layerTypes = new Set([...OCI_LAYERS, ...Object.values(policy.allowed).flat(), ...(policy.helm ? HELM_LAYERS : [])]);
  if (layerTypes.has('*')) return;
  for (const layer of m.layers) {
    if (!layerTypes.has(layer.mediaType)) {
      throw new ManifestError(`layer type "${layer.mediaType}" is not allowed for artifact type "${type}" (see ALLOWED_OCI_ARTIFACT_TYPES)`);
    }
  }
}
