/** Labels of a manifest: list (with a key prefix filter), add, get and delete, as Quay's API. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { LABEL_KEY_PATTERN, labelView } from '../../model/labels.js';
import { manifestAt, ManifestParams } from './manifest.js';
import { op, typed } from './schema.js';
import { badRequest, messageError, notFound } from './errors.js';

const tag = 'manifest';
const LabelParams = Type.Composite([ManifestParams, Type.Object({ labelid: Type.String({ description: 'The ID of the label' }) })]);

export async function manifestLabelRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  const t = typed(app);

  t.get(
    '/repository/:namespace/:repository/manifest/:manifestref/labels',
    {
      schema: {
        ...op('listManifestLabels', tag, "List the manifest's labels, optionally only keys with a prefix.", 'repo:read'),
        params: ManifestParams,
        querystring: Type.Object({ filter: Type.Optional(Type.String({ description: 'If specified, only labels matching the given prefix will be returned' })) }),
      },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const { manifest } = await manifestAt(rt, req, req.params, 'read');
      return { labels: (await rt.labels.list(manifest.id, req.query.filter || undefined)).map(labelView) };
    },
  );

  t.post(
    '/repository/:namespace/:repository/manifest/:manifestref/labels',
    {
      schema: {
        ...op('addManifestLabel', tag, 'Adds a new label into the tag manifest.', 'repo:write'),
        params: ManifestParams,
        body: Type.Object({
          key: Type.String({ description: 'The key for the label' }),
          value: Type.String({ description: 'The value for the label' }),
          // Quay's enum (with null), so that a refusal reads as jsonschema's "is not one of [...]".
          media_type: Type.Unsafe<'text/plain' | 'application/json' | null>({ enum: ['text/plain', 'application/json', null], description: 'The media type for this label' }),
        }),
      },
      config: { scope: 'repo:write' },
    },
    async (req, reply) => {
      const { repo, namespace, manifest } = await manifestAt(rt, req, req.params, 'write');
      await rt.writeGate.check(req.principal, repo, 'api');
      const { key, value } = req.body;
      const mediaType = (req.body.media_type as 'text/plain' | 'application/json' | null) ?? 'text/plain';
      // Quay's texts, through flask-restful's abort: `{"message": ...}`.
      const problem = rt.labels.keyProblem(key);
      if (problem === 'reserved') throw messageError(400, 'Label has a reserved prefix');
      if (problem === 'format') throw messageError(400, `Label is of an invalid format or missing please use ${LABEL_KEY_PATTERN.source} format for labels`);
      if (mediaType === 'application/json') {
        try {
          JSON.parse(value);
        } catch {
          throw badRequest('Label value is not valid JSON although media_type is application/json');
        }
      }
      const label = await rt.labels.add(manifest.id, key, value, mediaType, 'api');
      rt.logs.log({
        kind: 'manifest_label_add',
        performer: req.principal,
        namespaceId: repo.namespace_id,
        repositoryId: repo.id,
        ip: req.ip,
        metadata: { id: label.uuid, key, value, manifest_digest: manifest.digest, media_type: mediaType, repo: repo.name, namespace: namespace.name },
      });
      reply.code(201).header('location', `/api/v1/repository/${namespace.name}/${repo.name}/manifest/${manifest.digest}/labels/${label.uuid}`);
      return { label: labelView(label) };
    },
  );

  t.get(
    '/repository/:namespace/:repository/manifest/:manifestref/labels/:labelid',
    {
      schema: { ...op('getManifestLabel', tag, 'Retrieves the label with the specific ID under the manifest.', 'repo:read'), params: LabelParams },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const { manifest } = await manifestAt(rt, req, req.params, 'read');
      const label = await rt.labels.get(manifest.id, req.params.labelid);
      if (!label) throw notFound(`Label ${req.params.labelid} not found on ${manifest.digest}`);
      return labelView(label);
    },
  );

  t.delete(
    '/repository/:namespace/:repository/manifest/:manifestref/labels/:labelid',
    { schema: { ...op('deleteManifestLabel', tag, 'Deletes an existing label from a manifest.', 'repo:write'), params: LabelParams }, config: { scope: 'repo:write' } },
    async (req, reply) => {
      const { repo, namespace, manifest } = await manifestAt(rt, req, req.params, 'write');
      await rt.writeGate.check(req.principal, repo, 'api');
      const label = await rt.labels.get(manifest.id, req.params.labelid);
      if (!label) throw notFound(`Label ${req.params.labelid} not found on ${manifest.digest}`);
      await rt.labels.delete(label.id);
      rt.logs.log({
        kind: 'manifest_label_delete',
        performer: req.principal,
        namespaceId: repo.namespace_id,
        repositoryId: repo.id,
        ip: req.ip,
        metadata: { id: label.uuid, key: label.key, value: label.value, manifest_digest: manifest.digest, repo: repo.name, namespace: namespace.name },
      });
      return reply.code(204).send();
    },
  );
}
