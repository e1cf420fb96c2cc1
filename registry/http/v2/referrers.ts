/** GET /v2/<name>/referrers/<digest>[?artifactType=]: an OCI index of the manifests whose subject is the digest. */
import { parseDigest } from '../../oci/digest.js';
import { MT } from '../../oci/mediatypes.js';
import { RegistryError } from '../../errors.js';
import type { V2Context } from './context.js';

export async function listReferrers(ctx: V2Context): Promise<void> {
  const [digest] = ctx.params;
  try {
    parseDigest(digest);
  } catch (e) {
    throw new RegistryError('DIGEST_INVALID', (e as Error).message);
  }
  const artifactType = ctx.query.get('artifactType') ?? undefined;
  // A repository without pushes yet has no referrers; the API never answers 404 for a subject.
  const manifests = ctx.target.repo ? await ctx.rt.manifests.referrers(ctx.target.repo.id, digest, artifactType) : [];
  if (artifactType) ctx.reply.header('oci-filters-applied', 'artifactType');
  ctx.reply.header('content-type', MT.ociIndex);
  ctx.reply.send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests })));
}
