/** Manifest and index parsing and structural validation (pure; no storage access). */
import { DigestError, parseDigest } from './digest.js';
import { INDEX_TYPES, MANIFEST_TYPES, MT, SCHEMA1_TYPES, baseMediaType } from './mediatypes.js';
import { parseUntrustedJson } from '../input.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface ParsedManifest {
  mediaType: string;
  isIndex: boolean;
  config?: Descriptor;
  layers: Descriptor[];
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A manifest the registry refuses; `unsupported` is the 415 case (a content type we do not store). */
export class ManifestError extends Error {
  constructor(
    message: string,
    public readonly unsupported = false,
  ) {
    super(message);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw new ManifestError(`${where}: descriptor must be an object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw new ManifestError(`${where}: mediaType is required`);
  if (typeof digest !== 'string') throw new ManifestError(`${where}: digest is required`);
  try {
    parseDigest(digest);
  } catch (e) {
    throw new ManifestError(`${where}: ${(e as DigestError).message}`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new ManifestError(`${where}: size must be a non-negative integer`);
  if (v.urls !== undefined && (!Array.isArray(v.urls) || v.urls.some((u) => typeof u !== 'string'))) {
    throw new ManifestError(`${where}: urls must be a list of strings`);
  }
  if (v.annotations !== undefined && !isStringMap(v.annotations)) throw new ManifestError(`${where}: annotations must map strings to strings`);
  return v as unknown as Descriptor;
}

function isStringMap(v: unknown): v is Record<string, string> {
  return isObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

function descriptorList(v: unknown, where: string): Descriptor[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ManifestError(`${where} must be a list`);
  return v.map((d, i) => descriptor(d, `${where}[${i}]`));
}

/**
 * Parse manifest bytes sent with `contentType`. The JSON `mediaType`, when present, must agree with the
 * content type; when the content type is missing or generic, the JSON `mediaType` decides.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    // Depth-capped, and no NUL: annotations and artifactType are stored in Postgres, which cannot hold one.
    doc = parseUntrustedJson(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new ManifestError(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new ManifestError('manifest must be a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  let mediaType = baseMediaType(contentType);
  if (mediaType === '' || mediaType === 'application/octet-stream') mediaType = declared ?? '';
  if (SCHEMA1_TYPES.has(mediaType) || doc.schemaVersion === 1) {
    throw new ManifestError('Docker schema 1 manifests are not supported; push schema 2 or OCI', true);
  }
  if (!MANIFEST_TYPES.has(mediaType) && !INDEX_TYPES.has(mediaType)) {
    throw new ManifestError(`unsupported manifest media type "${mediaType || '(none)'}"`, true);
  }
  if (declared !== undefined && declared !== mediaType) {
    throw new ManifestError(`manifest mediaType "${declared}" does not match Content-Type "${mediaType}"`);
  }
  if (doc.schemaVersion !== 2) throw new ManifestError('schemaVersion must be 2');
  if (doc.artifactType !== undefined && typeof doc.artifactType !== 'string') throw new ManifestError('artifactType must be a string');
  if (doc.annotations !== undefined && !isStringMap(doc.annotations)) throw new ManifestError('annotations must map strings to strings');
  const subject = doc.subject === undefined ? undefined : descriptor(doc.subject, 'subject');
  const base = {
    mediaType,
    subject,
    artifactType: doc.artifactType as string | undefined,
    annotations: doc.annotations as Record<string, string> | undefined,
  };
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new ManifestError('an index needs a "manifests" list');
    return { ...base, isIndex: true, layers: [], manifests: descriptorList(doc.manifests, 'manifests') };
  }
  if (doc.config === undefined) throw new ManifestError('an image manifest needs a "config" descriptor');
  const config = descriptor(doc.config, 'config');
  return { ...base, isIndex: false, config, layers: descriptorList(doc.layers, 'layers'), manifests: [] };
}

/** The artifact type a referrers listing reports for a manifest. */
export function referrerArtifactType(m: ParsedManifest): string | undefined {
  if (m.artifactType) return m.artifactType;
  if (!m.isIndex && m.config) return m.config.mediaType;
  return undefined;
}

/** The type a manifest is checked against ALLOWED_OCI_ARTIFACT_TYPES with: its config type, or its artifactType over an empty config. */
export function effectiveConfigType(m: ParsedManifest): string | undefined {
  if (m.isIndex || !m.config) return undefined;
  if (m.config.mediaType === MT.ociEmpty && m.artifactType) return m.artifactType;
  return m.config.mediaType;
}
