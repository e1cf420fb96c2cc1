/**
 * Repository mirroring on the REST API (user guide 17.4.9): `GET/POST/PUT /repository/{repo}/mirror`,
 * `POST …/mirror/sync-now`, `POST …/mirror/sync-cancel`, with Quay's validation texts and
 * `repo_mirror_config_changed` audit entries (one per changed key). Repository admins only (plus global
 * read-only superusers for GET). Shown only with FEATURE_REPO_MIRROR.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import { MIRROR_ARCHITECTURES, MirrorConfigError, parseExternalReference, parseMirrorDate, type MirrorRow } from '../../model/mirror.js';
import { repoWithRole } from './auth.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { RepoParams, op, sendJsonString, typed } from './schema.js';

const MirrorBody = Type.Object({
  is_enabled: Type.Optional(Type.Unknown({ description: 'Used to enable or disable synchronizations.' })),
  external_reference: Type.Optional(Type.Unknown({ description: 'Location of the external repository (host[:port]/path/repo).' })),
  external_registry_username: Type.Optional(Type.Unknown({ description: 'Username used to authenticate with external registry.' })),
  external_registry_password: Type.Optional(Type.Unknown({ description: 'Password used to authenticate with external registry.' })),
  sync_interval: Type.Optional(Type.Unknown({ description: 'Number of seconds between synchronizations.' })),
  sync_start_date: Type.Optional(Type.Unknown({ description: 'Date and time of the next synchronization, YYYY-MM-DDTHH:MM:SSZ (UTC).' })),
  robot_username: Type.Optional(Type.Unknown({ description: 'Username of robot which will be used for image pushes.' })),
  root_rule: Type.Optional(Type.Unknown({ description: '{"rule_kind": "tag_glob_csv", "rule_value": [globs]}' })),
  external_registry_config: Type.Optional(Type.Unknown({ description: '{"verify_tls", "unsigned_images", "proxy": {"http_proxy", "https_proxy", "no_proxy"}}' })),
  skopeo_timeout_interval: Type.Optional(Type.Unknown({ description: 'Seconds a synchronization may take (at least 300).' })),
  architecture_filter: Type.Optional(Type.Unknown({ description: 'Architectures of multi-arch images to mirror (amd64, arm64, ppc64le, s390x); empty for all.' })),
});
type Body = Record<string, unknown>;

const fail = (text: string) => new MirrorConfigError(text);

function boolOf(v: unknown, key: string): boolean {
  if (typeof v !== 'boolean') throw fail(`${key} must be true or false`);
  return v;
}

function intOf(v: unknown, key: string, min: number, tooSmall: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw fail(`${key} must be a whole number`);
  if (v < min) throw fail(tooSmall);
  return v;
}

function textOf(v: unknown, key: string, max = 4096): string {
  if (typeof v !== 'string' || v.length > max || v.includes('\0')) throw fail(`Invalid ${key}`);
  return v;
}

function rulesOf(v: unknown): string[] {
  const r = v as { rule_kind?: unknown; rule_value?: unknown } | null;
  if (!r || typeof r !== 'object' || (r.rule_kind !== undefined && r.rule_kind !== 'tag_glob_csv')) throw fail('validation failed: rule_kind must be tag_glob_csv');
  if (!Array.isArray(r.rule_value) || r.rule_value.length === 0 || r.rule_value.some((x) => typeof x !== 'string' || !x || x.length > 256 || x.includes('\0'))) {
    throw fail('validation failed: rule_value for TAG_GLOB_CSV must be a list with at least one rule');
  }
  return [...new Set(r.rule_value as string[])];
}

function archOf(rt: Runtime, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw fail('architecture_filter must be a list of architectures');
  const bad = (v as string[]).filter((a) => !(MIRROR_ARCHITECTURES as readonly string[]).includes(a));
  if (bad.length > 0) throw fail(`Invalid architectures: ${bad.join(', ')}`);
  if (v.length > 0 && !rt.config.FEATURE_SPARSE_INDEX) throw fail('Architecture filtering requires FEATURE_SPARSE_INDEX to be enabled.');
  return [...new Set(v as string[])];
}

function registryConfigOf(v: unknown): Partial<Pick<MirrorRow, 'verify_tls' | 'unsigned_images' | 'http_proxy' | 'https_proxy' | 'no_proxy'>> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw fail('external_registry_config must be an object');
  const c = v as Record<string, unknown>;
  const out: ReturnType<typeof registryConfigOf> = {};
  if (c.verify_tls !== undefined) out.verify_tls = boolOf(c.verify_tls, 'verify_tls');
  if (c.unsigned_images !== undefined) out.unsigned_images = boolOf(c.unsigned_images, 'unsigned_images');
  if (c.proxy !== undefined && c.proxy !== null) {
    if (typeof c.proxy !== 'object' || Array.isArray(c.proxy)) throw fail('proxy must be an object');
    const p = c.proxy as Record<string, unknown>;
    for (const k of ['http_proxy', 'https_proxy', 'no_proxy'] as const) {
      if (p[k] === undefined) continue;
      const value = p[k] === null || p[k] === '' ? null : textOf(p[k], k, 1024);
      if (value && k !== 'no_proxy') {
        try {
          const u = new URL(value);
          if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
        } catch {
          throw fail(`Invalid ${k}: use http://host:port`);
        }
      }
      out[k] = value;
    }
  }
  return out;
}

export async function mirrorRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'mirror';
  const path = '/repository/:namespace/:repository/mirror';
  const enabled = () => {
    if (!rt.config.FEATURE_REPO_MIRROR) throw notFound();
  };
  const repoPath = (req: FastifyRequest) => {
    const p = req.params as { namespace: string; repository: string };
    return `${p.namespace}/${p.repository}`;
  };
  const admin = (req: FastifyRequest) => repoWithRole(rt, req, repoPath(req), 'admin');
  const configError = (e: unknown) => (e instanceof MirrorConfigError ? badRequest(e.message) : e);

  async function robotOf(ns: NamespaceRow, v: unknown): Promise<NamespaceRow> {
    const name = typeof v === 'string' ? v : '';
    const robot = name ? await rt.namespaces.byName(name) : null;
    if (!robot || robot.kind !== 'robot' || robot.robot_owner_id !== ns.id) throw fail('Invalid robot');
    return robot;
  }

  async function checkSource(ref: string): Promise<string> {
    const { host, repository } = parseExternalReference(ref);
    try {
      await rt.proxyCache.checkAllowed(host);
    } catch {
      throw fail('The provided registry location is not allowed');
    }
    return `${host}/${repository}`;
  }

  const audit = (req: FastifyRequest, repo: { id: number; namespace_id: number; name: string }, ns: NamespaceRow, changed: string, to: unknown) =>
    rt.logs.repoAction('repo_mirror_config_changed', req.principal, req.ip, repo, ns.name, { verb: 'changed', changed, to });

  app.get(path, { schema: { ...op('getRepoMirrorConfig', tag, 'Return the Mirror configuration for a given Repository.', 'repo:admin'), params: RepoParams } }, async (req) => {
    enabled();
    let target;
    try {
      target = await admin(req);
    } catch (e) {
      if (!rt.permissions.isGlobalReadonlySuperuser(req.principal)) throw e;
      target = await repoWithRole(rt, req, repoPath(req), 'read');
    }
    const row = await rt.mirrors.get(target.repo.id);
    if (!row) throw notFound('No mirror configuration found.');
    return rt.mirrors.view(row);
  });

  app.post(
    path,
    {
      schema: { ...op('createRepoMirrorConfig', tag, 'Create a RepoMirrorConfig for a given Repository.', 'repo:admin'), params: RepoParams, body: MirrorBody },
      config: { scope: 'repo:admin' },
    },
    async (req, reply) => {
      enabled();
      const { repo, namespace } = await admin(req);
      const b = (req.body ?? {}) as Body;
      try {
        for (const k of ['external_reference', 'sync_interval', 'sync_start_date', 'root_rule'])
          if (b[k] === undefined || b[k] === null) throw fail(`'${k}' is a required property`);
        const external = await checkSource(textOf(b.external_reference, 'external_reference', 2048));
        const username =
          b.external_registry_username === undefined || b.external_registry_username === null || b.external_registry_username === ''
            ? null
            : textOf(b.external_registry_username, 'external_registry_username');
        const password =
          b.external_registry_password === undefined || b.external_registry_password === null || b.external_registry_password === ''
            ? null
            : textOf(b.external_registry_password, 'external_registry_password', 9000);
        if (password !== null && username === null) throw fail('Unable to set a new password without also specifying a username.');
        const cfg = b.external_registry_config === undefined || b.external_registry_config === null ? {} : registryConfigOf(b.external_registry_config);
        const row = {
          is_enabled: b.is_enabled === undefined ? true : boolOf(b.is_enabled, 'is_enabled'),
          external_reference: external,
          username_enc: username ? rt.mirrors.box.seal(username) : null,
          password_enc: password ? rt.mirrors.box.seal(password) : null,
          verify_tls: cfg.verify_tls ?? true,
          unsigned_images: cfg.unsigned_images ?? false,
          http_proxy: cfg.http_proxy ?? null,
          https_proxy: cfg.https_proxy ?? null,
          no_proxy: cfg.no_proxy ?? null,
          tag_rules: rulesOf(b.root_rule),
          architecture_filter: b.architecture_filter === undefined || b.architecture_filter === null ? [] : archOf(rt, b.architecture_filter),
          sync_interval: intOf(b.sync_interval, 'sync_interval', 1, 'sync_interval must be at least 1 second'),
          sync_start_date: parseMirrorDate(b.sync_start_date),
          skopeo_timeout_interval:
            b.skopeo_timeout_interval === undefined
              ? 300
              : intOf(b.skopeo_timeout_interval, 'skopeo_timeout_interval', 300, 'Skopeo timeout interval cannot be less than 300 seconds'),
        };
        const robot = await robotOf(namespace, b.robot_username);
        if (!(await rt.mirrors.create(repo, robot, row))) {
          reply.code(409);
          return { detail: `Mirror configuration already exits for repository ${namespace.name}/${repo.name}` };
        }
        audit(req, repo, namespace, 'external_reference', external);
      } catch (e) {
        throw configError(e);
      }
      // Quay answers the JSON string "" (not an empty body).
      return sendJsonString(reply, 201, '');
    },
  );

  app.put(
    path,
    {
      schema: { ...op('changeRepoMirrorConfig', tag, "Allow users to modifying the repository's mirroring configuration.", 'repo:admin'), params: RepoParams, body: MirrorBody },
      config: { scope: 'repo:admin' },
    },
    async (req, reply) => {
      enabled();
      const { repo, namespace } = await admin(req);
      const row = await rt.mirrors.get(repo.id);
      if (!row) throw notFound('No mirror configuration found.');
      const b = (req.body ?? {}) as Body;
      const changes: Partial<Record<keyof MirrorRow, unknown>> = {};
      const logged: Array<[string, unknown]> = [];
      try {
        if (b.is_enabled !== undefined) logged.push(['is_enabled', (changes.is_enabled = boolOf(b.is_enabled, 'is_enabled'))]);
        if (b.external_reference === '') throw fail('Empty string is an invalid repository location.');
        if (b.external_reference !== undefined)
          logged.push(['external_reference', (changes.external_reference = await checkSource(textOf(b.external_reference, 'external_reference', 2048)))]);
        if (b.robot_username !== undefined) {
          const robot = await robotOf(namespace, b.robot_username);
          changes.robot_id = robot.id;
          logged.push(['robot_username', robot.name]);
        }
        if (b.sync_start_date !== undefined) {
          changes.sync_start_date = parseMirrorDate(b.sync_start_date);
          logged.push(['sync_start_date', b.sync_start_date]);
        }
        if (b.sync_interval !== undefined)
          logged.push(['sync_interval', (changes.sync_interval = intOf(b.sync_interval, 'sync_interval', 1, 'sync_interval must be at least 1 second'))]);
        if (b.skopeo_timeout_interval !== undefined) {
          logged.push([
            'skopeo_timeout_interval',
            (changes.skopeo_timeout_interval = intOf(b.skopeo_timeout_interval, 'skopeo_timeout_interval', 300, 'Skopeo timeout interval cannot be less than 300 seconds.')),
          ]);
        }
        if (b.architecture_filter !== undefined)
          logged.push(['architecture_filter', (changes.architecture_filter = b.architecture_filter === null ? [] : archOf(rt, b.architecture_filter))]);
        if (b.root_rule !== undefined) logged.push(['mirror_rule', (changes.tag_rules = rulesOf(b.root_rule))]);
        const hasUser = b.external_registry_username !== undefined;
        const hasPassword = b.external_registry_password !== undefined;
        if (hasPassword && !hasUser) throw fail('Unable to set a new password without also specifying a username.');
        if (hasUser) {
          const username = b.external_registry_username === null || b.external_registry_username === '' ? null : textOf(b.external_registry_username, 'external_registry_username');
          if (username === null && hasPassword && b.external_registry_password !== null && b.external_registry_password !== '')
            throw fail('Unable to delete username while setting a password.');
          changes.username_enc = username ? rt.mirrors.box.seal(username) : null;
          logged.push(['external_registry_username', username]);
          if (hasPassword || username === null) {
            const password =
              b.external_registry_password === null || b.external_registry_password === '' || b.external_registry_password === undefined
                ? null
                : textOf(b.external_registry_password, 'external_registry_password', 9000);
            changes.password_enc = password ? rt.mirrors.box.seal(password) : null;
            logged.push(['external_registry_password', password ? '********' : null]);
          }
        }
        if (b.external_registry_config !== undefined) {
          const cfg = registryConfigOf(b.external_registry_config);
          for (const [k, v] of Object.entries(cfg)) {
            changes[k as keyof MirrorRow] = v;
            logged.push([k, v]);
          }
        }
      } catch (e) {
        throw configError(e);
      }
      await rt.mirrors.update(repo.id, changes);
      for (const [changed, to] of logged) audit(req, repo, namespace, changed, to);
      // Quay answers the JSON string "" (not an empty body).
      return sendJsonString(reply, 201, '');
    },
  );

  for (const [suffix, operationId, summary, action, to] of [
    ['sync-now', 'syncNow', "Update the sync_status for a given Repository's mirroring configuration.", (id: number) => rt.mirrors.syncNow(id), 'SYNC_NOW'],
    ['sync-cancel', 'syncCancel', "Update the sync_status for a given Repository's mirroring configuration.", (id: number) => rt.mirrors.cancel(id), 'SYNC_CANCEL'],
  ] as const) {
    app.post(`${path}/${suffix}`, { schema: { ...op(operationId, tag, summary, 'repo:admin'), params: RepoParams }, config: { scope: 'repo:admin' } }, async (req, reply) => {
      enabled();
      const { repo, namespace } = await admin(req);
      if (!(await rt.mirrors.get(repo.id))) throw notFound('No mirror configuration found.');
      if (!(await action(repo.id)))
        throw new ApiError(404, 'not_found', suffix === 'sync-now' ? 'A synchronization is already running' : 'No synchronization is running or requested');
      audit(req, repo, namespace, 'sync_status', to);
      reply.code(204);
      return reply.send();
    });
  }
}
