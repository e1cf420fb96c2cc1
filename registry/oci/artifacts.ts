/** Which OCI artifact types a registry accepts (ALLOWED_OCI_ARTIFACT_TYPES, FEATURE_GENERAL_OCI_SUPPORT). */
import { ManifestError, effectiveConfigType, type ParsedManifest } from './manifest.js';
import { BUILTIN_ARTIFACT_TYPES, DOCKER_TYPES, IMAGE_CONFIG_TYPES, MT } from './mediatypes.js';

export interface ArtifactPolicy {
  generalOci: boolean;
  helm: boolean;
  /** config (or artifact) type -> allowed layer types; `*` as a key or a layer type matches anything. */
  allowed: Record<string, string[]>;
}

const HELM_LAYERS = [
  'application/tar+gzip',
  'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  'application/vnd.cncf.helm.chart.provenance.v1.prov',
];

/** Throws ManifestError when the manifest's type is not accepted by the policy. */
export function checkArtifactType(m: ParsedManifest, policy: ArtifactPolicy): void {
  if (DOCKER_TYPES.has(m.mediaType)) return;
  if (!policy.generalOci) throw new ManifestError('OCI manifests are disabled on this registry (FEATURE_GENERAL_OCI_SUPPORT is false)', true);
  const type = effectiveConfigType(m);
  if (type === undefined || IMAGE_CONFIG_TYPES.has(type) || type === MT.ociEmpty || BUILTIN_ARTIFACT_TYPES.includes(type)) return;
  let layerTypes: string[] | undefined = policy.allowed[type] ?? policy.allowed['*'];
  if (layerTypes === undefined && policy.helm && type === MT.helmConfig) layerTypes = HELM_LAYERS;
  if (layerTypes === undefined) {
    throw new ManifestError(`artifact type "${type}" is not allowed on this registry; an administrator can add it to ALLOWED_OCI_ARTIFACT_TYPES`);
  }
  if (layerTypes.includes('*')) return;
  for (const layer of m.layers) {
    if (!layerTypes.includes(layer.mediaType)) {
      throw new ManifestError(`layer type "${layer.mediaType}" is not allowed for artifact type "${type}" (see ALLOWED_OCI_ARTIFACT_TYPES)`);
    }
  }
}
