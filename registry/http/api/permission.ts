/** Repository permissions of users, robots and teams (admins of the repository only). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import { badRequest, notFound } from './errors.js';
import { repoWithRole } from './auth.js';
import { Role, op, typed } from './schema.js';
import { namespaceAvatar, teamAvatar } from './views.js';

const UserParams = Type.Object({ namespace: Type.String(), repository: Type.String(), username: Type.String({ description: 'The username of the user or robot' }) });
const TeamParams = Type.Object({ namespace: Type.String(), repository: Type.String(), teamname: Type.String({ description: 'The name of the team' }) });
const RepoOnly = Type.Object({ namespace: Type.String(), repository: Type.String() });

export async function permissionRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'permission';
  const cfg = { scope: 'repo:admin' as const };
  const admin = (req: FastifyRequest, p: { namespace: string; repository: string }) => repoWithRole(rt, req, `${p.namespace}/${p.repository}`, 'admin');
  const subject = async (name: string): Promise<NamespaceRow> => {
    const s = await rt.namespaces.byName(name);
    if (!s) throw notFound();
    return s;
  };
  /** `is_org_member` only on organization repositories (robots count as members), as Quay shows it. */
  const userView = (s: Pick<NamespaceRow, 'name' | 'kind' | 'email'>, role: string, namespace: NamespaceRow, inTeam: boolean) => ({
    role,
    name: s.name,
    is_robot: s.kind === 'robot',
    avatar: namespaceAvatar(s),
    ...(namespace.kind === 'org' ? { is_org_member: s.kind === 'robot' || inTeam } : {}),
  });
  const inTeam = async (namespace: NamespaceRow, s: NamespaceRow) => namespace.kind === 'org' && (await rt.tenancy.teams.teamsOf(namespace, s.id)).length > 0;

  app.get(
    '/repository/:namespace/:repository/permissions/user/',
    { schema: { ...op('listRepoUserPermissions', tag, 'List all user permissions.', 'repo:admin'), params: RepoOnly }, config: cfg },
    async (req) => {
      const { repo, namespace } = await admin(req, req.params);
      const perms = await rt.tenancy.repoPermissions.users(repo);
      return { permissions: Object.fromEntries(perms.map((p) => [p.name, userView(p, p.role, namespace, p.is_org_member)])) };
    },
  );

  app.get(
    '/repository/:namespace/:repository/permissions/user/:username',
    { schema: { ...op('getUserPermissions', tag, 'Get the permission for the specified user.', 'repo:admin'), params: UserParams }, config: cfg },
    async (req) => {
      const { repo, namespace } = await admin(req, req.params);
      const s = await subject(req.params.username);
      const role = await rt.tenancy.repoPermissions.userRole(repo, s);
      if (!role) throw notFound();
      return userView(s, role, namespace, await inTeam(namespace, s));
    },
  );

  app.get(
    '/repository/:namespace/:repository/permissions/user/:username/transitive',
    { schema: { ...op('getUserTransitivePermission', tag, 'Get the direct and team-derived permissions of a user.', 'repo:admin'), params: UserParams }, config: cfg },
    async (req) => {
      const { repo } = await admin(req, req.params);
      const s = await subject(req.params.username);
      const roles = await rt.tenancy.repoPermissions.transitive(repo, s);
      if (roles.length === 0) throw notFound();
      return { permissions: roles.map((role) => ({ role })) };
    },
  );

  app.put(
    '/repository/:namespace/:repository/permissions/user/:username',
    {
      schema: { ...op('changeUserPermissions', tag, 'Update the permissions for an existing repository.', 'repo:admin'), params: UserParams, body: Type.Object({ role: Role }) },
      config: cfg,
    },
    async (req) => {
      const { repo, namespace } = await admin(req, req.params);
      const s = await subject(req.params.username);
      const problem = rt.permissions.grantProblem(s, namespace);
      if (problem) throw badRequest(problem);
      await rt.tenancy.repoPermissions.setUser(repo, s, req.body.role);
      rt.logs.log({
        kind: 'change_repo_permission',
        performer: req.principal,
        namespaceId: namespace.id,
        repositoryId: repo.id,
        ip: req.ip,
        metadata: { username: s.name, repo: repo.name, namespace: namespace.name, role: req.body.role },
      });
      return userView(s, req.body.role, namespace, await inTeam(namespace, s));
    },
  );

  app.delete(
    '/repository/:namespace/:repository/permissions/user/:username',
    { schema: { ...op('deleteUserPermissions', tag, 'Delete the permission for the user.', 'repo:admin'), params: UserParams }, config: cfg },
    async (req, reply) => {
      const { repo, namespace } = await admin(req, req.params);
      const s = await subject(req.params.username);
      if (s.id === namespace.id) throw badRequest('Namespace owner must always be admin.');
      await rt.tenancy.repoPermissions.deleteUser(repo, s);
      rt.logs.log({
        kind: 'delete_repo_permission',
        performer: req.principal,
        namespaceId: namespace.id,
        repositoryId: repo.id,
        ip: req.ip,
        metadata: { username: s.name, repo: repo.name, namespace: namespace.name },
      });
      return reply.code(204).send();
    },
  );

  const team = async (namespace: NamespaceRow, name: string) => {
    const t = namespace.kind === 'org' ? await rt.tenancy.teams.byName(namespace, name) : null;
    if (!t) throw notFound();
    return t;
  };

  app.get(
    '/repository/:namespace/:repository/permissions/team/',
    { schema: { ...op('listRepoTeamPermissions', tag, 'List all team permission.', 'repo:admin'), params: RepoOnly }, config: cfg },
    async (req) => {
      const { repo } = await admin(req, req.params);
      const perms = await rt.tenancy.repoPermissions.teams(repo);
      return { permissions: Object.fromEntries(perms.map((p) => [p.name, { role: p.role, name: p.name, avatar: teamAvatar(p.name) }])) };
    },
  );

  app.get(
    '/repository/:namespace/:repository/permissions/team/:teamname',
    { schema: { ...op('getTeamPermissions', tag, 'Fetch the permission for the specified team.', 'repo:admin'), params: TeamParams }, config: cfg },
    async (req) => {
      const { repo, namespace } = await admin(req, req.params);
      const t = await team(namespace, req.params.teamname);
      const role = await rt.tenancy.repoPermissions.teamRole(repo, t);
      if (!role) throw notFound();
      return { role, name: t.name, avatar: teamAvatar(t.name) };
    },
  );

  app.put(
    '/repository/:namespace/:repository/permissions/team/:teamname',
    { schema: { ...op('changeTeamPermissions', tag, 'Update the existing team permission.', 'repo:admin'), params: TeamParams, body: Type.Object({ role: Role }) }, config: cfg },
    async (req) => {
      const { repo, namespace } = await admin(req, req.params);
      const t = await team(namespace, req.params.teamname);
      await rt.tenancy.repoPermissions.setTeam(repo, t, req.body.role);
      rt.logs.log({
        kind: 'change_repo_permission',
        performer: req.principal,
        namespaceId: namespace.id,
        repositoryId: repo.id,
        ip: req.ip,
        metadata: { team: t.name, repo: repo.name, namespace: namespace.name, role: req.body.role },
      });
      return { role: req.body.role, name: t.name, avatar: teamAvatar(t.name) };
    },
  );

  app.delete(
    '/repository/:namespace/:repository/permissions/team/:teamname',
    { schema: { ...op('deleteTeamPermissions', tag, 'Delete the permission for the specified team.', 'repo:admin'), params: TeamParams }, config: cfg },
    async (req, reply) => {
      const { repo, namespace } = await admin(req, req.params);
      const t = await team(namespace, req.params.teamname);
      await rt.tenancy.repoPermissions.deleteTeam(repo, t);
      rt.logs.log({
        kind: 'delete_repo_permission',
        performer: req.principal,
        namespaceId: namespace.id,
        repositoryId: repo.id,
        ip: req.ip,
        metadata: { team: t.name, repo: repo.name, namespace: namespace.name },
      });
      return reply.code(204).send();
    },
  );
}
