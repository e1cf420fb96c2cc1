/**
 * GET /repository/{repo}/manifest/{digest}/security: Quay's vulnerability report of a manifest; and
 * GET /repository/{repo}/security?digests=…: the summaries of a page of manifests at once (an addition for the
 * UI's Tags list, which Quay's UI fills with one report request per row).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { UnknownManifest } from '../../model/secscan.js';
import { ScannerUnavailable } from '../../scan/backend.js';
import { looksLikeDigest } from '../../oci/digest.js';
import { repoWithRole } from './auth.js';
import { op, RepoParams, typed } from './schema.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { ManifestParams } from './manifest.js';

/** A page of the Tags list (100) and its platforms fit. */
const MAX_SUMMARY_DIGESTS = 200;

export async function secscanRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  // Quay hides the resource (show_if) when the feature is off.
  if (!rt.config.FEATURE_SECURITY_SCANNER) return;
  typed(app).get(
    '/repository/:namespace/:repository/manifest/:manifestref/security',
    {
      schema: {
        ...op('getRepoManifestSecurity', 'secscan', 'Get the security information for the given repository manifest.', 'repo:read'),
        params: ManifestParams,
        querystring: Type.Object({ vulnerabilities: Type.Boolean({ default: false, description: 'Include vulnerabilities informations' }) }),
      },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const { namespace, repository, manifestref } = req.params;
      const target = await repoWithRole(rt, req, `${namespace}/${repository}`, 'read');
      if (!looksLikeDigest(manifestref)) throw badRequest(`Invalid manifest digest "${manifestref}"`);
      try {
        // The v4 model returns vulnerabilities whatever `vulnerabilities` says; so does this one.
        return await rt.secscan.securityInfo(target.repo.id, manifestref);
      } catch (err) {
        if (err instanceof UnknownManifest) throw notFound(err.message);
        if (err instanceof ScannerUnavailable) throw new ApiError(520, 'downstream_issue', err.message);
        throw err;
      }
    },
  );
  typed(app).get(
    '/repository/:namespace/:repository/security',
    {
      schema: {
        ...op(
          'getRepoSecuritySummaries',
          'secscan',
          `The security status of up to ${MAX_SUMMARY_DIGESTS} manifests of the repository, with their vulnerabilities counted per severity once scanned. Unknown digests are left out.`,
          'repo:read',
        ),
        params: RepoParams,
        // Optional in the schema so that a caller without access learns that first, as on every route.
        querystring: Type.Object({ digests: Type.Optional(Type.String({ description: 'Comma-separated manifest digests (required)' })) }),
      },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const { namespace, repository } = req.params;
      const target = await repoWithRole(rt, req, `${namespace}/${repository}`, 'read');
      const digests = [...new Set((req.query.digests ?? '').split(',').filter(Boolean))];
      if (digests.length === 0) throw badRequest('Give at least one manifest digest in digests');
      if (digests.length > MAX_SUMMARY_DIGESTS) throw badRequest(`At most ${MAX_SUMMARY_DIGESTS} digests per request`);
      const bad = digests.find((d) => !looksLikeDigest(d));
      if (bad !== undefined) throw badRequest(`Invalid manifest digest "${bad.slice(0, 100)}"`);
      try {
        return { manifests: Object.fromEntries(await rt.secscan.securitySummaries(target.repo.id, digests)) };
      } catch (err) {
        if (err instanceof ScannerUnavailable) throw new ApiError(520, 'downstream_issue', err.message);
        throw err;
      }
    },
  );
}
