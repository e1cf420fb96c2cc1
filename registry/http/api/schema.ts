/** Schema pieces shared by the resources: OpenAPI operation metadata, roles, path parameters. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Scope } from '../../auth/principal.js';

/** The app with TypeBox-typed routes. */
export function typed(app: FastifyInstance) {
  return app.withTypeProvider<TypeBoxTypeProvider>();
}

/** OpenAPI metadata of one operation (Quay's nickname becomes the operationId; its scope the security). */
export function op(operationId: string, tag: string, summary: string, scope?: Scope) {
  return { operationId, tags: [tag], summary, security: scope ? [{ oauth2_implicit: [scope] }] : [] };
}

export const Role = Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('admin')], { description: 'Role to grant' });
export const TeamRole = Type.Union([Type.Literal('member'), Type.Literal('creator'), Type.Literal('admin')], { description: 'Org wide permissions that should apply to the team' });

/** A repository path: nested names (FEATURE_EXTENDED_REPOSITORY_NAMES) are passed with %2F in `repository`. */
export const RepoParams = Type.Object({
  namespace: Type.String({ description: 'The namespace of the repository' }),
  repository: Type.String({ description: 'The name of the repository (nested names with %2F)' }),
});

export const OrgParams = Type.Object({ orgname: Type.String({ description: 'The name of the organization' }) });

export const Email = Type.String({ maxLength: 254, pattern: '^[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+$', description: 'An e-mail address' });

export const Starttime = Type.Optional(Type.String({ description: 'Earliest time for logs. Format: "%m/%d/%Y" in UTC.' }));
export const Endtime = Type.Optional(Type.String({ description: 'Latest time for logs. Format: "%m/%d/%Y" in UTC.' }));

/** Quay parses boolean query parameters as true unless one of these (Python's `requests` sends `True`/`False`). */
const FALSY_QUERY = new Set(['false', 'False', 'FALSE', '0', '', 'null']);

/** Before validation: a query parameter the route declares boolean becomes `true`/`false` by Quay's rule. */
export async function quayQueryBooleans(req: FastifyRequest): Promise<void> {
  const props = (req.routeOptions.schema?.querystring as { properties?: Record<string, { type?: string }> } | undefined)?.properties;
  const query = req.query as Record<string, unknown> | undefined;
  if (!props || !query) return;
  for (const [key, value] of Object.entries(query)) {
    if (props[key]?.type === 'boolean' && typeof value === 'string') query[key] = FALSY_QUERY.has(value) ? 'false' : 'true';
  }
}

/** Quay answers some writes with a bare JSON string (`"Created"`, `"Updated"`, `"Deleted"`): JSON, not text. */
export function sendJsonString(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type('application/json').send(JSON.stringify(text));
}
