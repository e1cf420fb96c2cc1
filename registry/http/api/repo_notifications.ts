/**
 * Repository notifications (`/repository/{ns}/{repo}/notification/...`), namespace (quota) notifications
 * (`/organization/{org}/notifications/...`, `/user/namespacenotifications/...`) and the e-mail addresses
 * authorized per repository (`/repository/{ns}/{repo}/authorizedemail/{email}`). Repository admins only
 * (list and get also global read-only superusers); namespace notifications: organization admins or the user.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import { NotificationInvalid, notificationConfigView, type NotificationRow, type NewNotification } from '../../model/notification_configs.js';
import { eventKind } from '../../model/event_kinds.js';
import { badRequest, notFound } from './errors.js';
import { adminOrg, currentUser, repoWithRole } from './auth.js';
import { OrgParams, op, typed } from './schema.js';

const RepoOnly = Type.Object({ namespace: Type.String(), repository: Type.String() });
const RepoUuid = Type.Object({ namespace: Type.String(), repository: Type.String(), uuid: Type.String({ description: 'The UUID of the notification' }) });
const OrgUuid = Type.Object({ orgname: Type.String(), uuid: Type.String({ description: 'The UUID of the notification' }) });
const UserUuid = Type.Object({ uuid: Type.String({ description: 'The UUID of the notification' }) });
const RepoEmail = Type.Object({ namespace: Type.String(), repository: Type.String(), email: Type.String({ description: 'The e-mail address' }) });
const NotificationCreate = Type.Object(
  {
    event: Type.Optional(Type.Unknown({ description: 'The event on which the notification will respond' })),
    method: Type.Optional(Type.Unknown({ description: 'The method of notification (such as email or web callback)' })),
    config: Type.Optional(Type.Unknown({ description: 'JSON config information for the specific method of notification' })),
    eventConfig: Type.Optional(Type.Unknown({ description: 'JSON config information for the specific event of notification' })),
    title: Type.Optional(Type.Unknown({ description: 'The human-readable title of the notification' })),
  },
  { description: 'Information for creating a notification' },
);

const EMAIL = /^[^@\s]+@[^@\s]+$/;

function required(body: unknown, fields: string[]): NewNotification {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Missing notification body');
  for (const f of fields) if ((body as Record<string, unknown>)[f] === undefined) throw badRequest(`'${f}' is a required property`);
  return body as NewNotification;
}

export async function repoNotificationRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'repositorynotification';
  const adminCfg = { scope: 'repo:admin' as const };
  const admin = (req: FastifyRequest, p: { namespace: string; repository: string }) => repoWithRole(rt, req, `${p.namespace}/${p.repository}`, 'admin');
  /** List and get: admins, and global read-only superusers (read on every repository). */
  const reader = async (req: FastifyRequest, p: { namespace: string; repository: string }) => {
    const globalReader = rt.permissions.canReadAsSuperuser(req.principal) && !rt.permissions.isSuperuser(req.principal);
    return repoWithRole(rt, req, `${p.namespace}/${p.repository}`, globalReader ? 'read' : 'admin');
  };
  const missing = (p: { namespace: string; repository: string; uuid: string }) => badRequest(`No repository notification found for: ${p.namespace}, ${p.repository}, ${p.uuid}`);
  const audit = (kind: string, req: FastifyRequest, t: { repo: { id: number; namespace_id: number; name: string }; namespace: NamespaceRow }, n: NotificationRow) =>
    rt.logs.repoAction(kind, req.principal, req.ip, t.repo, t.namespace.name, { notification_id: n.uuid, event: n.event, method: n.method });

  app.get(
    '/repository/:namespace/:repository/notification/',
    { schema: { ...op('listRepoNotifications', tag, 'List the notifications for the specified repository.', 'repo:admin'), params: RepoOnly }, config: adminCfg },
    async (req) => {
      const { repo } = await reader(req, req.params);
      return { notifications: (await rt.notificationConfigs.listForRepository(repo.id)).map(notificationConfigView) };
    },
  );

  app.post(
    '/repository/:namespace/:repository/notification/',
    {
      schema: {
        ...op('createRepoNotification', tag, 'Create a notification for the specified repository.', 'repo:admin'),
        params: RepoOnly,
        body: Type.Optional(NotificationCreate),
      },
      config: adminCfg,
    },
    async (req, reply) => {
      const t = await admin(req, req.params);
      const input = required(req.body, ['event', 'method', 'config', 'eventConfig']);
      let n: NotificationRow;
      try {
        n = await rt.notificationConfigs.createForRepository(t.repo.id, await rt.notificationConfigs.validate('repository', t.namespace, t.repo.id, input));
      } catch (err) {
        if (err instanceof NotificationInvalid) throw badRequest(err.message);
        throw err;
      }
      audit('add_repo_notification', req, t, n);
      reply.code(201);
      return notificationConfigView(n);
    },
  );

  app.get(
    '/repository/:namespace/:repository/notification/:uuid',
    { schema: { ...op('getRepoNotification', tag, 'Get information for the specified notification.', 'repo:admin'), params: RepoUuid }, config: adminCfg },
    async (req) => {
      const { repo } = await reader(req, req.params);
      const n = await rt.notificationConfigs.forRepository(repo.id, req.params.uuid);
      if (!n) throw notFound();
      return notificationConfigView(n);
    },
  );

  app.delete(
    '/repository/:namespace/:repository/notification/:uuid',
    { schema: { ...op('deleteRepoNotification', tag, 'Deletes the specified notification.', 'repo:admin'), params: RepoUuid }, config: adminCfg },
    async (req, reply) => {
      const t = await admin(req, req.params);
      const n = await rt.notificationConfigs.forRepository(t.repo.id, req.params.uuid);
      if (!n) throw missing(req.params);
      await rt.notificationConfigs.delete(n);
      audit('delete_repo_notification', req, t, n);
      return reply.code(204).send();
    },
  );

  app.post(
    '/repository/:namespace/:repository/notification/:uuid',
    { schema: { ...op('resetRepositoryNotificationFailures', tag, 'Resets repository notification to 0 failures.', 'repo:admin'), params: RepoUuid }, config: adminCfg },
    async (req, reply) => {
      const t = await admin(req, req.params);
      const n = await rt.notificationConfigs.forRepository(t.repo.id, req.params.uuid);
      if (!n) throw missing(req.params);
      await rt.notificationConfigs.reset(n);
      audit('reset_repo_notification', req, t, n);
      return reply.code(204).send();
    },
  );

  app.post(
    '/repository/:namespace/:repository/notification/:uuid/test',
    { schema: { ...op('testRepoNotification', tag, 'Queues a test notification for this repository.', 'repo:admin'), params: RepoUuid }, config: adminCfg },
    async (req) => {
      const t = await admin(req, req.params);
      const n = await rt.notificationConfigs.forRepository(t.repo.id, req.params.uuid);
      if (!n) throw missing(req.params);
      const data = rt.events.repositoryPayload(t.namespace.name, t.repo.name, eventKind(n.event)!.sample({ notificationUuid: n.uuid, namespace: t.namespace.name }));
      await rt.db.tx((q) =>
        rt.events.enqueueFor(q, { uuid: n.uuid, event: n.event, namespace: t.namespace.name, scope: 'repository' }, data, { test: true, performer: req.principal }),
      );
      return {};
    },
  );

  // Authorized e-mail addresses.
  const emailView = (ns: string, repo: string, r: { email: string; confirmed: boolean }) => ({ email: r.email, repository: repo, namespace: ns, confirmed: r.confirmed });
  const checkEmail = (email: string) => {
    if (!EMAIL.test(email) || email.length > 254) throw badRequest('Invalid e-mail address');
  };

  app.get(
    '/repository/:namespace/:repository/authorizedemail/:email',
    {
      schema: { ...op('checkRepoEmailAuthorized', tag, 'Checks to see if the given e-mail address is authorized on this repository.', 'repo:admin'), params: RepoEmail },
      config: adminCfg,
    },
    async (req) => {
      const t = await admin(req, req.params);
      const r = await rt.notificationConfigs.authorizedEmail(t.repo.id, req.params.email);
      if (!r) throw notFound();
      return emailView(t.namespace.name, t.repo.name, r);
    },
  );

  app.post(
    '/repository/:namespace/:repository/authorizedemail/:email',
    {
      schema: { ...op('sendAuthorizeRepoEmail', tag, 'Starts the authorization process for an e-mail address on a repository.', 'repo:admin'), params: RepoEmail },
      config: adminCfg,
    },
    async (req) => {
      const t = await admin(req, req.params);
      checkEmail(req.params.email);
      if (!rt.mailer.enabled) throw badRequest('E-mail is not enabled on this registry (FEATURE_MAILING and MAIL_SERVER)');
      const r = await rt.notificationConfigs.requestEmailAuthorization(t.repo.id, req.params.email);
      if (!r.confirmed) {
        const base = `${rt.config.PREFERRED_URL_SCHEME}://${rt.config.SERVER_HOSTNAME}`;
        const link = `${base}/authrepoemail?code=${encodeURIComponent(r.code)}`;
        const repoPath = `${t.namespace.name}/${t.repo.name}`;
        try {
          await rt.mailer.send({
            to: r.email,
            subject: `Verify e-mail address for notifications on ${repoPath}`,
            html: `<p>A request has been made to send notifications of repository <b>${repoPath}</b> to this e-mail address.</p><p>To confirm, follow this link: <a href="${link}">${link}</a></p><p>If you did not ask for this, ignore this e-mail.</p>`,
            text: `Confirm notifications of ${repoPath} to this address: ${link}`,
          });
        } catch (err) {
          req.log.warn({ err: (err as Error).message }, 'sending the e-mail authorization failed');
          throw badRequest('Could not send the confirmation e-mail; try again later');
        }
      }
      return emailView(t.namespace.name, t.repo.name, r);
    },
  );
}

/** Namespace (quota) notifications of an organization or of the calling user. */
export async function namespaceNotificationRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'namespacenotification';
  const orgCfg = { scope: 'org:admin' as const };
  const userCfg = { scope: 'user:admin' as const };

  const handlers = () => {
    const audit = (action: string, req: FastifyRequest, ns: NamespaceRow, n: NotificationRow) =>
      rt.logs.log({
        kind: action,
        performer: req.principal,
        namespaceId: ns.id,
        ip: req.ip,
        metadata: { namespace: ns.name, notification_id: n.uuid, event: n.event, method: n.method },
      });
    const missing = (ns: NamespaceRow, uuid: string) => badRequest(`No namespace notification found for: ${ns.name}, ${uuid}`);
    return {
      list: async (ns: NamespaceRow) => ({ notifications: (await rt.notificationConfigs.listForNamespace(ns.id)).map(notificationConfigView) }),
      create: async (req: FastifyRequest, ns: NamespaceRow) => {
        const input = required(req.body, ['event', 'method', 'config']);
        try {
          const n = await rt.notificationConfigs.createForNamespace(ns.id, await rt.notificationConfigs.validate('namespace', ns, null, input));
          audit('create_namespace_notification', req, ns, n);
          return notificationConfigView(n);
        } catch (err) {
          if (err instanceof NotificationInvalid) throw badRequest(err.message);
          throw err;
        }
      },
      get: async (ns: NamespaceRow, uuid: string) => {
        const n = await rt.notificationConfigs.forNamespace(ns.id, uuid);
        if (!n) throw notFound();
        return notificationConfigView(n);
      },
      remove: async (req: FastifyRequest, ns: NamespaceRow, uuid: string) => {
        const n = await rt.notificationConfigs.forNamespace(ns.id, uuid);
        if (!n) throw missing(ns, uuid);
        await rt.notificationConfigs.delete(n);
        audit('delete_namespace_notification', req, ns, n);
      },
      reset: async (req: FastifyRequest, ns: NamespaceRow, uuid: string) => {
        const n = await rt.notificationConfigs.forNamespace(ns.id, uuid);
        if (!n) throw missing(ns, uuid);
        await rt.notificationConfigs.reset(n);
        audit('reset_namespace_notification', req, ns, n);
      },
      test: async (req: FastifyRequest, ns: NamespaceRow, uuid: string) => {
        const n = await rt.notificationConfigs.forNamespace(ns.id, uuid);
        if (!n) throw missing(ns, uuid);
        const data = rt.events.namespacePayload(ns.name, eventKind(n.event)!.sample({ notificationUuid: n.uuid, namespace: ns.name }));
        await rt.db.tx((q) => rt.events.enqueueFor(q, { uuid: n.uuid, event: n.event, namespace: ns.name, scope: 'namespace' }, data, { test: true, performer: req.principal }));
        return {};
      },
    };
  };

  const org = handlers();
  const orgOf = (req: FastifyRequest) => adminOrg(rt, req, (req.params as { orgname: string }).orgname);
  app.get(
    '/organization/:orgname/notifications',
    { schema: { ...op('getOrganizationNotifications', tag, 'List the quota notifications of the organization.', 'org:admin'), params: OrgParams }, config: orgCfg },
    async (req) => org.list(await orgOf(req)),
  );
  app.post(
    '/organization/:orgname/notifications',
    {
      schema: {
        ...op('createOrganizationNotification', tag, 'Create a quota notification for the organization.', 'org:admin'),
        params: OrgParams,
        body: Type.Optional(NotificationCreate),
      },
      config: orgCfg,
    },
    async (req, reply) => {
      const view = await org.create(req, await orgOf(req));
      reply.code(201);
      return view;
    },
  );
  app.get(
    '/organization/:orgname/notifications/:uuid',
    { schema: { ...op('getOrganizationNotification', tag, 'Get a quota notification of the organization.', 'org:admin'), params: OrgUuid }, config: orgCfg },
    async (req) => org.get(await orgOf(req), req.params.uuid),
  );
  app.delete(
    '/organization/:orgname/notifications/:uuid',
    { schema: { ...op('deleteOrganizationNotification', tag, 'Delete a quota notification of the organization.', 'org:admin'), params: OrgUuid }, config: orgCfg },
    async (req, reply) => {
      await org.remove(req, await orgOf(req), req.params.uuid);
      return reply.code(204).send();
    },
  );
  app.post(
    '/organization/:orgname/notifications/:uuid',
    { schema: { ...op('resetOrganizationNotificationFailures', tag, 'Reset the failure count of a quota notification.', 'org:admin'), params: OrgUuid }, config: orgCfg },
    async (req, reply) => {
      await org.reset(req, await orgOf(req), req.params.uuid);
      return reply.code(204).send();
    },
  );
  app.post(
    '/organization/:orgname/notifications/:uuid/test',
    { schema: { ...op('testOrganizationNotification', tag, 'Queue a test quota notification.', 'org:admin'), params: OrgUuid }, config: orgCfg },
    async (req) => org.test(req, await orgOf(req), req.params.uuid),
  );

  const user = handlers();
  app.get(
    '/user/namespacenotifications',
    { schema: { ...op('getUserNamespaceNotifications', tag, "List the quota notifications of the user's namespace.", 'user:admin') }, config: userCfg },
    async (req) => user.list(await currentUser(rt, req)),
  );
  app.post(
    '/user/namespacenotifications',
    {
      schema: { ...op('createUserNamespaceNotification', tag, "Create a quota notification for the user's namespace.", 'user:admin'), body: Type.Optional(NotificationCreate) },
      config: userCfg,
    },
    async (req, reply) => {
      const view = await user.create(req, await currentUser(rt, req));
      reply.code(201);
      return view;
    },
  );
  app.get(
    '/user/namespacenotifications/:uuid',
    { schema: { ...op('getUserNamespaceNotification', tag, "Get a quota notification of the user's namespace.", 'user:admin'), params: UserUuid }, config: userCfg },
    async (req) => user.get(await currentUser(rt, req), req.params.uuid),
  );
  app.delete(
    '/user/namespacenotifications/:uuid',
    { schema: { ...op('deleteUserNamespaceNotification', tag, "Delete a quota notification of the user's namespace.", 'user:admin'), params: UserUuid }, config: userCfg },
    async (req, reply) => {
      await user.remove(req, await currentUser(rt, req), req.params.uuid);
      return reply.code(204).send();
    },
  );
  app.post(
    '/user/namespacenotifications/:uuid',
    { schema: { ...op('resetUserNamespaceNotificationFailures', tag, 'Reset the failure count of a quota notification.', 'user:admin'), params: UserUuid }, config: userCfg },
    async (req, reply) => {
      await user.reset(req, await currentUser(rt, req), req.params.uuid);
      return reply.code(204).send();
    },
  );
  app.post(
    '/user/namespacenotifications/:uuid/test',
    { schema: { ...op('testUserNamespaceNotification', tag, 'Queue a test quota notification.', 'user:admin'), params: UserUuid }, config: userCfg },
    async (req) => user.test(req, await currentUser(rt, req), req.params.uuid),
  );
}
