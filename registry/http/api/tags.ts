/**
 * Tags on the REST API (time machine aware): list with Quay's filters and history, create/move and expiry
 * (PUT), delete, restore inside the namespace's time machine window.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { TagHistoryRow } from '../../model/tags.js';
import { rfc2822 } from '../../model/notifications.js';
import { durationSeconds } from '../../model/namespaces.js';
import { performerUsername } from '../../model/logs.js';
import { validTag } from '../../oci/names.js';
import { looksLikeDigest } from '../../oci/digest.js';
import { isIndexMediaType } from './manifest.js';
import { repoWithRole } from './auth.js';
import { op, RepoParams, sendJsonString, typed } from './schema.js';
import { badRequest, notFound } from './errors.js';
import { principalName } from '../../auth/principal.js';

const tag = 'tag';
const TagParams = Type.Composite([RepoParams, Type.Object({ tag: Type.String({ description: 'The name of the tag' }) })]);
/** Expirations further out than this are typos (Quay's UI offers dates, not centuries). */

export function tagView(t: TagHistoryRow): Record<string, unknown> {
  const view: Record<string, unknown> = {
    name: t.name,
    reversion: t.reversion,
    start_ts: Math.floor(t.start_ms / 1000),
    manifest_digest: t.manifest_digest,
    is_manifest_list: isIndexMediaType(t.media_type),
    size: isIndexMediaType(t.media_type) ? null : t.layers_size,
    last_modified: rfc2822(t.start_ms),
  };
  if (t.end_ms !== null) {
    view.end_ts = Math.floor(t.end_ms / 1000);
    view.expiration = rfc2822(t.end_ms);
  }
  return view;
}

/** Quay brings `page` and `limit` into range (page ≥ 1, limit 1-100) rather than refusing them. */
function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

export async function tagRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  const t = typed(app);

  t.get(
    '/repository/:namespace/:repository/tag/',
    {
      schema: {
        ...op('listRepoTags', tag, 'List the tags of a repository, with their history unless onlyActiveTags.', 'repo:read'),
        params: RepoParams,
        querystring: Type.Object({
          specificTag: Type.Optional(Type.String()),
          filter_tag_name: Type.Optional(Type.String({ description: '"like:<text>" or "eq:<name>"' })),
          onlyActiveTags: Type.Optional(Type.Boolean({ default: false, description: 'Filter to only active tags.' })),
          page: Type.Integer({ default: 1, description: 'Page index for the results. Default 1.' }),
          limit: Type.Integer({ default: 50, description: 'Limit to the number of results to return per page. Max 100.' }),
        }),
      },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const { repo } = await repoWithRole(rt, req, `${req.params.namespace}/${req.params.repository}`, 'read');
      const q = req.query;
      let filter: { op: 'like' | 'eq'; value: string } | undefined;
      if (q.filter_tag_name !== undefined) {
        const m = /^(like|eq):(.+)$/.exec(q.filter_tag_name);
        if (!m) throw badRequest('filter_tag_name must be "like:<text>" or "eq:<name>"');
        filter = { op: m[1] as 'like' | 'eq', value: m[2] };
      }
      const page = clamp(q.page, 1, 1_000_000);
      const limit = clamp(q.limit, 1, 100);
      const r = await rt.tags.list(repo.id, { onlyActive: Boolean(q.onlyActiveTags), name: q.specificTag || undefined, filter, page, limit });
      return { tags: r.rows.map(tagView), page, has_additional: r.more };
    },
  );

  t.put(
    '/repository/:namespace/:repository/tag/:tag',
    {
      schema: {
        ...op('changeTag', tag, 'Create or move a tag (manifest_digest) and/or set or clear its expiration (epoch seconds, null clears).', 'repo:write'),
        params: TagParams,
        body: Type.Optional(
          Type.Object({
            manifest_digest: Type.Optional(Type.String()),
            // Checked by hand: schema coercion would turn null (clear) into 0.
            expiration: Type.Optional(Type.Unknown({ description: 'Epoch seconds in the future, or null to clear' })),
          }),
        ),
      },
      config: { scope: 'repo:write' },
    },
    async (req, reply) => {
      const { repo, namespace } = await repoWithRole(rt, req, `${req.params.namespace}/${req.params.repository}`, 'write');
      await rt.writeGate.check(req.principal, repo, 'api');
      const name = req.params.tag;
      if (!validTag(name)) throw badRequest(`Invalid tag name "${name}": use letters, digits, _ . - (at most 128, not starting with . or -)`);
      const body = req.body ?? {};
      if (body.manifest_digest === undefined && body.expiration === undefined) throw badRequest('Nothing to change: give manifest_digest and/or expiration');
      if (body.manifest_digest !== undefined && !looksLikeDigest(body.manifest_digest)) throw badRequest(`Invalid manifest digest "${body.manifest_digest}"`);
      let expirationMs: number | null | undefined;
      if (body.expiration !== undefined) {
        // Any number, as Quay takes it (browsers send fractional seconds); kept to the millisecond.
        if (body.expiration !== null && (typeof body.expiration !== 'number' || !Number.isFinite(body.expiration))) {
          throw badRequest('Invalid expiration: give epoch seconds, or null to clear it');
        }
        const now = Date.now() / 1000;
        if (body.expiration !== null && body.expiration <= now) throw badRequest('Invalid expiration: it must be in the future');
        expirationMs = body.expiration === null ? null : Math.round(body.expiration * 1000);
      }
      if (body.manifest_digest !== undefined) {
        const before = await rt.tags.live(repo.id, name);
        const beforeDigest = before ? (await rt.db.query<{ digest: string }>('SELECT digest FROM manifest WHERE id = $1', [before.manifest_id])).rows[0]?.digest : undefined;
        const result = await rt.tags.assign(repo.id, name, body.manifest_digest);
        if (result === null) throw notFound(`Manifest ${body.manifest_digest} not found in ${namespace.name}/${repo.name}`);
        if (result === 'created')
          rt.logs.repoAction('create_tag', req.principal, req.ip, repo, namespace.name, {
            ...performerUsername(req.principal),
            tag: name,
            manifest_digest: body.manifest_digest,
            original_manifest_digest: null,
          });
        if (result === 'moved')
          rt.logs.repoAction('move_tag', req.principal, req.ip, repo, namespace.name, {
            ...performerUsername(req.principal),
            tag: name,
            manifest_digest: body.manifest_digest,
            original_manifest_digest: beforeDigest,
          });
      }
      if (expirationMs !== undefined) {
        // As Quay: clamped to [pushed + LABELED_EXPIRATION_MINIMUM, pushed + LABELED_EXPIRATION_MAXIMUM].
        const bounds = { minS: durationSeconds(rt.config.LABELED_EXPIRATION_MINIMUM), maxS: durationSeconds(rt.config.LABELED_EXPIRATION_MAXIMUM) };
        const r = await rt.tags.setExpiration(repo.id, name, expirationMs, bounds);
        if (!r) throw notFound(`Tag ${name} not found in ${namespace.name}/${repo.name}`);
        rt.logs.repoAction('change_tag_expiration', req.principal, req.ip, repo, namespace.name, {
          ...performerUsername(req.principal),
          tag: name,
          expiration_date: r.end === null ? null : rfc2822(r.end),
          old_expiration_date: r.previous === null ? null : rfc2822(r.previous),
        });
      }
      return sendJsonString(reply, 201, 'Updated');
    },
  );

  t.delete(
    '/repository/:namespace/:repository/tag/:tag',
    {
      schema: { ...op('deleteFullTag', tag, 'Delete the tag (it stays restorable inside the time machine window).', 'repo:write'), params: TagParams },
      config: { scope: 'repo:write' },
    },
    async (req, reply) => {
      const { repo, namespace } = await repoWithRole(rt, req, `${req.params.namespace}/${req.params.repository}`, 'write');
      await rt.writeGate.check(req.principal, repo, 'api');
      const live = await rt.tags.live(repo.id, req.params.tag);
      if (!live || !(await rt.tags.delete(repo.id, req.params.tag))) throw notFound(`Tag ${req.params.tag} not found in ${namespace.name}/${repo.name}`);
      const digest = (await rt.db.query<{ digest: string }>('SELECT digest FROM manifest WHERE id = $1', [live.manifest_id])).rows[0]?.digest;
      rt.logs.repoAction('delete_tag', req.principal, req.ip, repo, namespace.name, { ...performerUsername(req.principal), tag: req.params.tag, manifest_digest: digest });
      return reply.code(204).send();
    },
  );

  t.post(
    '/repository/:namespace/:repository/tag/:tag/restore',
    {
      schema: {
        ...op('restoreTag', tag, 'Point the tag back at a manifest it pointed at inside the time machine window.', 'repo:write'),
        params: TagParams,
        body: Type.Object({ manifest_digest: Type.String() }),
      },
      config: { scope: 'repo:write' },
    },
    async (req) => {
      const { repo, namespace } = await repoWithRole(rt, req, `${req.params.namespace}/${req.params.repository}`, 'write');
      await rt.writeGate.check(req.principal, repo, 'api');
      const name = req.params.tag;
      const digest = req.body.manifest_digest;
      if (!validTag(name)) throw badRequest(`Invalid tag name "${name}"`);
      if (!looksLikeDigest(digest)) throw badRequest(`Invalid manifest digest "${digest}"`);
      const before = await rt.tags.live(repo.id, name);
      const beforeDigest = before ? (await rt.db.query<{ digest: string }>('SELECT digest FROM manifest WHERE id = $1', [before.manifest_id])).rows[0]?.digest : undefined;
      const window = namespace.removed_tag_expiration_s;
      const r = await rt.tags.restore(repo.id, name, digest, window);
      if (r === 'unknown_manifest') throw notFound(`Manifest ${digest} not found in ${namespace.name}/${repo.name}`);
      if (r === 'not_in_history') throw notFound(`Tag ${name} never pointed at ${digest}`);
      if (r === 'outside_window')
        throw badRequest(`Cannot restore tag ${name} to ${digest}: that was more than ${window} seconds ago, outside the time machine window of ${namespace.name}`);
      rt.logs.repoAction('revert_tag', req.principal, req.ip, repo, namespace.name, {
        ...performerUsername(req.principal),
        tag: name,
        manifest_digest: digest,
        original_manifest_digest: beforeDigest,
      });
      return {};
    },
  );
  if (rt.config.PERMANENTLY_DELETE_TAGS) {
    t.post(
      '/repository/:namespace/:repository/tag/:tag/expire',
      {
        schema: {
          ...op(
            'removeTagFromTimemachine',
            tag,
            'Take the tag out of the time machine window: it can no longer be restored, and its manifest is garbage collected once nothing else references it.',
            'repo:write',
          ),
          params: TagParams,
          body: Type.Object({
            manifest_digest: Type.Optional(Type.String({ description: 'Required if is_alive is false: the manifest whose expired tags are removed.' })),
            include_submanifests: Type.Optional(Type.Boolean({ description: 'Accepted for Quay compatibility: the child manifests of an index are always collected with it.' })),
            is_alive: Type.Optional(Type.Boolean({ description: 'If true, remove the live tag; if false, the expired tags of the name that pointed at manifest_digest.' })),
          }),
        },
        config: { scope: 'repo:write' },
      },
      async (req, reply) => {
        const { repo, namespace } = await repoWithRole(rt, req, `${req.params.namespace}/${req.params.repository}`, 'write');
        await rt.writeGate.check(req.principal, repo, 'api');
        const name = req.params.tag;
        const alive = req.body.is_alive ?? false;
        let manifest: { id: number; digest: string } | undefined;
        if (alive) {
          const live = await rt.tags.live(repo.id, name);
          if (!live) throw notFound(`Tag ${name} not found in ${namespace.name}/${repo.name}`);
          manifest = (await rt.db.query<{ id: number; digest: string }>('SELECT id, digest FROM manifest WHERE id = $1', [live.manifest_id])).rows[0];
        } else {
          const digest = req.body.manifest_digest;
          if (digest === undefined) throw badRequest('manifest_digest required when is_alive set to false');
          if (!looksLikeDigest(digest)) throw badRequest(`Invalid manifest digest "${digest}"`);
          manifest = (await rt.db.query<{ id: number; digest: string }>('SELECT id, digest FROM manifest WHERE repository_id = $1 AND digest = $2', [repo.id, digest])).rows[0];
        }
        if (!manifest || (await rt.tags.removeFromTimeMachine(repo.id, name, manifest.id, alive)) === 0) {
          throw notFound(`No ${alive ? 'live' : 'expired'} tag ${name} of ${namespace.name}/${repo.name} to remove`);
        }
        rt.logs.repoAction('permanently_delete_tag', req.principal, req.ip, repo, namespace.name, {
          username: principalName(req.principal),
          repo: repo.name,
          namespace: namespace.name,
          tag: name,
          manifest_digest: manifest.digest,
        });
        return sendJsonString(reply, 200, '');
      },
    );
  }
}
