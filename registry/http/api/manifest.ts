/** GET /repository/{repo}/manifest/{digest}: a manifest's bytes and layers as Quay's API shows them. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { ManifestRow } from '../../model/manifests.js';
import { looksLikeDigest } from '../../oci/digest.js';
import { repoWithRole } from './auth.js';
import { op, RepoParams, typed } from './schema.js';
import { badRequest, notFound } from './errors.js';

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

export const ManifestParams = Type.Composite([RepoParams, Type.Object({ manifestref: Type.String({ description: 'The digest of the manifest' }) })]);

/** The repository (at `role`) and the manifest a `.../manifest/{digest}` path names; 404 when either is missing. */
export async function manifestAt(
  rt: Runtime,
  req: FastifyRequest,
  params: { namespace: string; repository: string; manifestref: string },
  role: 'read' | 'write',
) {
  const target = await repoWithRole(rt, req, `${params.namespace}/${params.repository}`, role);
  if (!looksLikeDigest(params.manifestref)) throw badRequest(`Invalid manifest digest "${params.manifestref}"`);
  const manifest = await rt.manifests.resolve(target.repo.id, params.manifestref);
  if (!manifest) throw notFound(`Manifest ${params.manifestref} not found in ${target.namespace.name}/${target.repo.name}`);
  return { ...target, manifest };
}

function manifestView(m: ManifestRow): Record<string, unknown> {
  const list = isIndexMediaType(m.media_type);
  let layers: unknown[] | null = null;
  if (!list) {
    const parsed = JSON.parse(m.bytes.toString('utf8')) as { layers?: Array<{ digest: string; size: number; urls?: string[] }> };
    layers = (parsed.layers ?? []).map((l, index) => ({
      index,
      compressed_size: l.size,
      is_remote: Boolean(l.urls?.length),
      urls: l.urls ?? null,
      command: null,
      comment: null,
      author: null,
      blob_digest: l.digest,
      created_datetime: null,
    }));
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
    async (req) => manifestView((await manifestAt(rt, req, req.params, 'read')).manifest),
  );
}
