/** The superuser panel's API: users (list, create with a generated password, change, disable, delete), organizations and the change log. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import { generateSecret, passwordProblem } from '../../auth/passwords.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import { validNamespaceName } from '../../oci/names.js';
import { NAME_RULE } from '../../model/orgs.js';
import { badRequest, notFound } from './errors.js';
import { currentUser, requireSuperuser, requireSuperuserRead } from './auth.js';
import { Email, op, typed } from './schema.js';
import { namespaceQuotaFields } from './quota.js';
import { namespaceAvatar, userSummary } from './views.js';

const GENERATED_PASSWORD_LENGTH = 32;
const PAGE_TTL_S = 2 * 86400;

/** dist/registry/http/api/superuser.js → the CHANGELOG.md shipped at the top of the install (as Quay ships its own). */
export const CHANGELOG_FILE = fileURLToPath(new URL('../../../../CHANGELOG.md', import.meta.url));

export async function superuserRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const cfg = { scope: 'super:user' as const, fresh: true };
  const tag = 'superuser';

  /** A user as the superuser panel shows it, with its quota when quota management is on. */
  const userView = async (u: NamespaceRow) => ({
    ...userSummary(u, rt.namespaces.isSuperuser(u), rt.namespaces.isGlobalReadonlySuperuser(u)),
    ...(await namespaceQuotaFields(rt, u)),
  });

  const userByName = async (name: string): Promise<NamespaceRow> => {
    const u = await rt.namespaces.byName(name);
    if (!u || u.kind !== 'user') throw notFound();
    return u;
  };

  app.get(
    '/superuser/users/',
    {
      schema: {
        ...op('listAllUsers', tag, 'Returns a list of all users in the system.', 'super:user'),
        querystring: Type.Object({
          disabled: Type.Optional(Type.Boolean({ default: true, description: 'If false, only enabled users will be returned.' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Limit the number of results; enables next_page' })),
          next_page: Type.Optional(Type.String()),
        }),
      },
      config: cfg,
    },
    async (req) => {
      requireSuperuserRead(rt, req);
      const { disabled, limit, next_page } = req.query;
      const after = next_page ? rt.tenancy.pages.openJson<{ after: string }>(next_page) : { after: '' };
      if (!after) throw badRequest('Invalid or expired next_page token');
      const rows = await rt.tenancy.users.list({ includeDisabled: disabled !== false, afterName: after.after, limit: limit ? limit + 1 : null });
      const page = limit ? rows.slice(0, limit) : rows;
      return {
        users: await Promise.all(page.map(userView)),
        ...(limit && rows.length > limit ? { next_page: rt.tenancy.pages.sealJson({ after: page[page.length - 1].name }, PAGE_TTL_S) } : {}),
      };
    },
  );

  app.post(
    '/superuser/users/',
    {
      schema: {
        ...op('createInstallUser', tag, 'Creates a new user; its generated password is returned once.', 'super:user'),
        body: Type.Object({ username: Type.String({ minLength: 1, description: 'The username of the user being created' }), email: Type.Optional(Email) }),
      },
      config: cfg,
    },
    async (req) => {
      requireSuperuser(rt, req);
      if (rt.config.AUTHENTICATION_TYPE !== 'Database') throw badRequest('Cannot create a user in a non-database auth system');
      const { username, email } = req.body;
      if (!validNamespaceName(username)) throw badRequest(`Invalid username "${username}": ${NAME_RULE}`);
      const password = generateSecret(GENERATED_PASSWORD_LENGTH);
      const user = await rt.namespaces.createUser({ name: username, password, email: email ?? null });
      rt.logs.log({ kind: 'user_create', performer: req.principal, namespaceId: user.id, ip: req.ip, metadata: { username } });
      return { username, email: email ?? null, password, encrypted_password: rt.auth.encryptPassword(password) };
    },
  );

  app.get(
    '/superuser/users/:username',
    { schema: { ...op('getInstallUser', tag, 'Returns information about the specified user.', 'super:user'), params: Type.Object({ username: Type.String() }) }, config: cfg },
    async (req) => {
      requireSuperuserRead(rt, req);
      const u = await userByName(req.params.username);
      return userView(u);
    },
  );

  app.post(
    '/superusers/users/:username/sendrecovery',
    {
      schema: {
        ...op('sendInstallUserRecoveryEmail', tag, 'Sends a password recovery e-mail to the specified user.', 'super:user'),
        params: Type.Object({ username: Type.String() }),
      },
      config: cfg,
    },
    async (req) => {
      if (!rt.accountMail.enabled) throw notFound();
      requireSuperuser(rt, req);
      if (rt.config.AUTHENTICATION_TYPE !== 'Database') throw badRequest('Cannot send a recovery e-mail for non-database auth');
      const u = await userByName(req.params.username);
      if (rt.namespaces.isSuperuser(u)) throw badRequest('Cannot send a recovery email for a superuser');
      return { email: await rt.accountMail.sendRecoveryTo(u) };
    },
  );

  app.put(
    '/superuser/users/:username',
    {
      schema: {
        ...op('changeInstallUser', tag, 'Updates information about the specified user.', 'super:user'),
        params: Type.Object({ username: Type.String() }),
        body: Type.Object({
          password: Type.Optional(Type.String({ description: 'The new password for the user' })),
          email: Type.Optional(Email),
          enabled: Type.Optional(Type.Boolean({ description: 'Whether the user is enabled' })),
          superuser: Type.Optional(Type.Boolean({ description: 'Whether the user is a superuser' })),
        }),
      },
      config: cfg,
    },
    async (req) => {
      requireSuperuser(rt, req);
      const u = await userByName(req.params.username);
      const self = req.principal.kind === 'user' && req.principal.id === u.id;
      if (rt.namespaces.isSuperuser(u) && !self) throw badRequest('Cannot modify a superuser');
      const body = req.body ?? {};
      if (body.superuser !== undefined && rt.config.SUPER_USERS.includes(u.name)) throw badRequest('This user is a superuser through SUPER_USERS in config.yaml');
      if (body.enabled === false && self) throw badRequest('Cannot disable yourself');
      const result: Record<string, unknown> = {};
      if (body.password !== undefined) {
        const problem = passwordProblem(body.password);
        if (problem) throw badRequest(problem);
        await rt.tenancy.users.setPassword(u, body.password, self ? req.apiAuth.sessionId : undefined);
        result.encrypted_password = rt.auth.encryptPassword(body.password);
        rt.logs.log({ kind: 'user_change_password', performer: req.principal, namespaceId: u.id, ip: req.ip, metadata: { username: u.name } });
      }
      if (body.email !== undefined) {
        await rt.tenancy.users.setEmail(u, body.email);
        rt.logs.log({ kind: 'user_change_email', performer: req.principal, namespaceId: u.id, ip: req.ip, metadata: { username: u.name, email: body.email } });
      }
      if (body.enabled !== undefined) {
        await rt.tenancy.users.setEnabled(u, body.enabled);
        if (!body.enabled) await rt.tenancy.sessions.destroyAll(u.id);
        rt.logs.log({ kind: body.enabled ? 'user_enable' : 'user_disable', performer: req.principal, namespaceId: u.id, ip: req.ip, metadata: { username: u.name } });
      }
      if (body.superuser !== undefined) await rt.tenancy.users.setSuperuser(u, body.superuser);
      const after = (await rt.namespaces.byId(u.id))!;
      return { ...(await userView(after)), ...result };
    },
  );

  app.delete(
    '/superuser/users/:username',
    {
      schema: { ...op('deleteInstallUser', tag, 'Deletes the specified user and everything in its namespace.', 'super:user'), params: Type.Object({ username: Type.String() }) },
      config: cfg,
    },
    async (req, reply) => {
      requireSuperuser(rt, req);
      const u = await userByName(req.params.username);
      if (rt.namespaces.isSuperuser(u)) throw badRequest('Cannot delete a superuser');
      await rt.tenancy.orgs.deleteNamespace(u);
      rt.logs.log({ kind: 'user_delete', performer: req.principal, namespaceId: null, ip: req.ip, metadata: { username: u.name } });
      return reply.code(204).send();
    },
  );

  // Quay queues a worker to add up its storage rows; here the size is one aggregate over the blob table, so
  // every GET is current and `last_ran` is the moment of the answer. POST (the UI's "Calculate") answers 201 with an
  // empty body as Quay does when it queues, and the next GET has the figure.
  app.get(
    '/superuser/registrysize/',
    { schema: op('getRegistrySize', tag, 'Returns the size of the registry: the bytes of every blob stored once.', 'super:user'), config: cfg },
    async (req) => {
      requireSuperuserRead(rt, req);
      return { size_bytes: await rt.quotas.registrySize(), last_ran: Date.now(), queued: false, running: false };
    },
  );
  app.post(
    '/superuser/registrysize/',
    { schema: op('queueRegistrySizeCalculation', tag, 'Calculates the registry size now (Quay queues it).', 'super:user'), config: cfg },
    async (req, reply) => {
      requireSuperuser(rt, req);
      return reply.code(201).type('text/html; charset=utf-8').send('');
    },
  );

  app.get(
    '/superuser/organizations/',
    {
      schema: {
        ...op('listAllOrganizations', tag, 'List the organizations of the registry.', 'super:user'),
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), next_page: Type.Optional(Type.String()) }),
      },
      config: cfg,
    },
    async (req) => {
      requireSuperuserRead(rt, req);
      const { limit, next_page } = req.query;
      const after = next_page ? rt.tenancy.pages.openJson<{ after: string }>(next_page) : { after: '' };
      if (!after) throw badRequest('Invalid or expired next_page token');
      const rows = await rt.tenancy.orgs.list(after.after, limit ? limit + 1 : 100_000);
      const page = limit ? rows.slice(0, limit) : rows;
      // The counts of the organizations list (superusers administer every organization).
      const ids = page.map((o) => o.id);
      const counts = await rt.tenancy.orgs.summaries(req.principal, ids, new Set(ids));
      return {
        organizations: await Promise.all(
          page.map(async (o) => {
            const { id: _id, ...c } = counts.get(o.id)!;
            return { name: o.name, email: o.email, avatar: namespaceAvatar(o), ...(await namespaceQuotaFields(rt, o)), ...c };
          }),
        ),
        ...(limit && rows.length > limit ? { next_page: rt.tenancy.pages.sealJson({ after: page[page.length - 1].name }, PAGE_TTL_S) } : {}),
      };
    },
  );

  app.delete(
    '/superuser/organizations/:name',
    {
      schema: { ...op('deleteOrganization', tag, 'Deletes the specified organization and everything in it.', 'super:user'), params: Type.Object({ name: Type.String() }) },
      config: cfg,
    },
    async (req, reply) => {
      requireSuperuser(rt, req);
      const org = await rt.namespaces.byName(req.params.name);
      if (!org || org.kind !== 'org') throw notFound();
      await rt.tenancy.orgs.deleteNamespace(org);
      rt.logs.log({ kind: 'org_delete', performer: req.principal, namespaceId: null, ip: req.ip, metadata: { namespace: org.name } });
      return reply.code(204).send();
    },
  );

  app.put(
    '/superuser/organizations/:name',
    {
      schema: {
        ...op('changeOrganization', tag, 'Updates information about the specified organization.', 'super:user'),
        params: Type.Object({ name: Type.String({ description: 'The name of the organizaton being managed' }) }),
        body: Type.Object(
          { name: Type.Optional(Type.String({ description: 'The new name for the organization' })) },
          { description: 'Description of updates for an existing organization' },
        ),
      },
      config: cfg,
    },
    async (req) => {
      requireSuperuser(rt, req);
      let org = await rt.namespaces.byName(req.params.name);
      if (!org || org.kind !== 'org') throw notFound();
      const newName = req.body.name;
      if (newName !== undefined && newName !== org.name) {
        org = await rt.tenancy.orgs.rename(org, newName);
        rt.logs.log({
          kind: 'org_change_name',
          performer: req.principal,
          namespaceId: org.id,
          ip: req.ip,
          metadata: { old_name: req.params.name, new_name: newName, superuser: req.principal.kind === 'user' ? req.principal.name : null },
        });
      }
      return { name: org.name, email: org.email, avatar: namespaceAvatar(org), ...(await namespaceQuotaFields(rt, org)) };
    },
  );

  app.post(
    '/superuser/takeownership/:namespace',
    {
      schema: {
        ...op('takeOwnership', tag, 'Takes ownership of the specified organization or user.', 'super:user'),
        params: Type.Object({ namespace: Type.String({ description: 'The namespace of the user or organization being managed' }) }),
      },
      config: cfg,
    },
    async (req) => {
      requireSuperuser(rt, req);
      const me = await currentUser(rt, req);
      const ns = await rt.namespaces.byName(req.params.namespace);
      if (!ns || ns.kind === 'robot') throw notFound();
      if (ns.kind === 'user' && rt.namespaces.isSuperuser(ns)) throw badRequest('Cannot take ownership of a superuser');
      const { wasUser } = await rt.tenancy.orgs.takeOwnership(ns, me);
      rt.logs.log({
        kind: 'take_ownership',
        performer: req.principal,
        namespaceId: ns.id,
        ip: req.ip,
        metadata: { entity_id: ns.id, namespace: ns.name, was_user: wasUser, superuser: me.name },
      });
      return { namespace: ns.name };
    },
  );

  // Read at request time, as Quay does: an install whose file is replaced shows the new text without a restart.
  app.get('/superuser/changelog/', { schema: op('getChangeLog', tag, 'Returns the change log for this installation.', 'super:user'), config: cfg }, async (req) => {
    requireSuperuser(rt, req);
    const log = await readFile(CHANGELOG_FILE, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw notFound('No change log is installed with this registry');
      throw e;
    });
    return { log };
  });

  app.get(
    '/superuser/registrystatus',
    { schema: { ...op('scRegistryStatus', tag, 'Returns the status of the registry.'), hide: true }, config: { anonymousAllowed: true } },
    // A registry that started has a valid configuration and an up-to-date schema: it is set up.
    async () => ({ provider_id: 'file', status: 'ready' }),
  );
}
