/**
 * Entity search (`/entities/{prefix}`): the users, robots, teams and organization a name can refer to, as the
 * UI's pickers ask for them when adding team members, repository permissions and default permissions.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import { op, typed } from './schema.js';
import { namespaceAvatar, teamAvatar } from './views.js';

const MAX_USERS = 10;

export async function searchRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  typed(base).get(
    '/entities/:prefix',
    {
      schema: {
        ...op('getMatchingEntities', 'search', 'Get a list of entities that match the specified prefix.'),
        params: Type.Object({ prefix: Type.String({ description: 'The prefix of the entities being looked up' }) }),
        querystring: Type.Object({
          namespace: Type.String({ default: '', description: 'Namespace to use when querying for org entities.' }),
          includeTeams: Type.Boolean({ default: false, description: 'Whether to include team names.' }),
          includeOrgs: Type.Boolean({ default: false, description: 'Whether to include orgs names.' }),
        }),
      },
    },
    async (req) => {
      const prefix = req.params.prefix.replace(/\s/g, '').toLowerCase();
      const { namespace, includeTeams, includeOrgs } = req.query;
      const p = req.principal;
      const ns = namespace ? await rt.namespaces.byName(namespace) : null;
      let org: NamespaceRow | null = null;
      // Robots are offered from the namespace the caller works in: an organization it belongs to, or its own.
      let robotOwner: NamespaceRow | null = null;
      const results: Record<string, unknown>[] = [];
      if (ns?.kind === 'org') {
        org = ns;
        if (await rt.permissions.isOrgMember(p, ns)) {
          robotOwner = ns;
          if (includeTeams) {
            for (const t of await rt.tenancy.teams.matching(ns, prefix)) results.push({ name: t.name, kind: 'team', is_org_member: true, avatar: teamAvatar(t.name) });
          }
        }
      } else if (ns?.kind === 'user' && p.kind === 'user' && p.id === ns.id && (await rt.permissions.canAdminNamespace(p, ns))) {
        robotOwner = ns;
      }
      for (const u of await rt.tenancy.users.matching(prefix, robotOwner, org, MAX_USERS)) {
        results.push({
          name: u.name,
          kind: 'user',
          is_robot: u.kind === 'robot',
          avatar: namespaceAvatar(u),
          ...(org ? { is_org_member: u.kind === 'robot' || u.in_org } : {}),
        });
      }
      if (org && includeOrgs && org.name.startsWith(prefix) && (await rt.permissions.canAdminNamespace(p, org))) {
        results.push({ name: org.name, kind: 'org', is_org_member: true, avatar: namespaceAvatar(org) });
      }
      return { results };
    },
  );
}
