/** GET /repository/{repo}/manifest/{digest}/security: Quay's vulnerability report of a manifest. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { UnknownManifest } from '../../model/secscan.js';
import { ScannerUnavailable } from '../../scan/backend.js';
import { looksLikeDigest } from '../../oci/digest.js';
import { repoWithRole } from './auth.js';
import { op, typed } from './schema.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { ManifestParams } from './manifest.js';

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
}
