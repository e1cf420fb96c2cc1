/** GET /repository/{repo}/manifest/{digest}: a manifest's bytes and layers as Quay's API shows them. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { ManifestRow } from '../../model/manifests.js';
import { looksLikeDigest } from '../../oci/digest.js';
import { repoWithRole } from './auth.js';
import { op, RepoParams, typed } from './schema.js';
import { badRequest, notFound } from './errors.js';
import { formatDate } from './views.js';

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

export const ManifestParams = Type.Composite([RepoParams, Type.Object({ manifestref: Type.String({ description: 'The digest of the manifest' }) })]);

/** The repository (at `role`) and the manifest a `.../manifest/{digest}` path names; 404 when either is missing. */
export async function manifestAt(rt: Runtime, req: FastifyRequest, params: { namespace: string; repository: string; manifestref: string }, role: 'read' | 'write') {
  const target = await repoWithRole(rt, req, `${params.namespace}/${params.repository}`, role);
  if (!looksLikeDigest(params.manifestref)) throw badRequest(`Invalid manifest digest "${params.manifestref}"`);
  const manifest = await rt.manifests.resolve(target.repo.id, params.manifestref);
  if (!manifest) throw notFound(`Manifest ${params.manifestref} not found in ${target.namespace.name}/${target.repo.name}`);
  return { ...target, manifest };
}

/** Image configs whose `history` describes the layers (Docker and OCI image configs). */
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.docker.container.image.v1+json', 'application/vnd.oci.image.config.v1+json']);
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** The layer Docker records for history entries that made no filesystem change (ENV, CMD ...): a gzipped empty tar. */
const EMPTY_LAYER_DIGEST = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const EMPTY_LAYER_SIZE = 32;

interface Layer {
  digest: string;
  size: number;
  urls?: string[];
}
interface History {
  created?: unknown;
  created_by?: unknown;
  author?: unknown;
  comment?: unknown;
  empty_layer?: unknown;
}
interface ImageConfig {
  created?: unknown;
  author?: unknown;
  config?: { Cmd?: unknown } | null;
  history?: unknown;
}

/** The image config, read with a size cap and only after its bytes were verified; null when unavailable. */
async function readConfig(rt: Runtime, repoId: number, digest: string, size: number): Promise<ImageConfig | null> {
  const blob = await rt.blobs.findInRepo(repoId, digest);
  if (!blob || blob.size !== size) return null;
  try {
    const bytes = await rt.blobs.readVerified(blob, MAX_CONFIG_BYTES);
    const parsed: unknown = bytes && JSON.parse(bytes.toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as ImageConfig) : null;
  } catch (err) {
    // A config that cannot be read, verified or parsed: the layers are still shown, without their history.
    rt.log.warn({ err: (err as Error).message, digest }, 'manifest view without its image config');
    return null;
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function dateOf(v: unknown): string | null {
  const d = typeof v === 'string' ? new Date(v) : null;
  return d && !Number.isNaN(d.getTime()) ? formatDate(d) : null;
}

/** The command as a list: Docker's `created_by` is one string, a JSON-encoded list in old images, a list in `Cmd`. */
function commandOf(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (typeof v !== 'string' || v === '') return null;
  try {
    const parsed: unknown = JSON.parse(v);
    if (Array.isArray(parsed)) return parsed;
  } catch {
    // a plain command line
  }
  return [v];
}

/**
 * Quay's layer list: one entry per history entry of the image config (those without a filesystem change
 * count as the empty layer), with its command, author, comment and date; without usable history, one
 * entry per layer blob (the last one described by the config's own Cmd/author/created).
 */
function layerViews(layers: Layer[], config: ImageConfig | null): Record<string, unknown>[] {
  const view = (index: number, digest: string, size: number, urls: string[] | undefined, h: History | null) => ({
    index,
    compressed_size: size,
    is_remote: Boolean(urls?.length),
    urls: urls ?? null,
    command: commandOf(h?.created_by),
    comment: str(h?.comment),
    author: str(h?.author),
    blob_digest: digest,
    created_datetime: dateOf(h?.created),
  });
  const history = (Array.isArray(config?.history) ? config.history : []).filter((h): h is History => Boolean(h) && typeof h === 'object');
  const filled = history.filter((h) => h.empty_layer !== true);
  if (history.length === 0 || filled.length !== layers.length) {
    const last: History | null = config && history.length === 0 ? { created: config.created, created_by: config.config?.Cmd, author: config.author } : null;
    return layers.map((l, i) => view(i, l.digest, l.size, l.urls, i === layers.length - 1 ? last : null));
  }
  let blob = 0;
  return history.map((h, i) => {
    if (h.empty_layer === true) return view(i, EMPTY_LAYER_DIGEST, EMPTY_LAYER_SIZE, undefined, h);
    const l = layers[blob++];
    return view(i, l.digest, l.size, l.urls, h);
  });
}

async function manifestView(rt: Runtime, m: ManifestRow): Promise<Record<string, unknown>> {
  const list = isIndexMediaType(m.media_type);
  let layers: unknown[] | null = null;
  if (!list) {
    const parsed = JSON.parse(m.bytes.toString('utf8')) as { config?: { digest?: string; size?: number; mediaType?: string }; layers?: Layer[] };
    const cfg = parsed.config;
    const config = cfg?.digest && IMAGE_CONFIG_TYPES.has(m.config_media_type ?? '') ? await readConfig(rt, m.repository_id, cfg.digest, cfg.size ?? 0) : null;
    layers = layerViews(parsed.layers ?? [], config);
  }
  return {
    digest: m.digest,
    is_manifest_list: list,
    manifest_data: m.bytes.toString('utf8'),
    config_media_type: m.config_media_type,
    layers_compressed_size: list ? null : m.layers_size,
    layers,
  };
}

export async function manifestRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  typed(app).get(
    '/repository/:namespace/:repository/manifest/:manifestref',
    { schema: { ...op('getRepoManifest', 'manifest', 'Get the manifest with the given digest.', 'repo:read'), params: ManifestParams }, config: { scope: 'repo:read' } },
    async (req) => manifestView(rt, (await manifestAt(rt, req, req.params, 'read')).manifest),
  );
}
