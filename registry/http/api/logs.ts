/**
 * Usage logs of a repository, the calling user, an organization, and (superusers) the whole registry; newest
 * first, 20 per page, continued with an opaque, sealed `next_page` token; plus counts per kind and day.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import type { LogCursor, LogFilter } from '../../model/log_reader.js';
import { badRequest, notFound } from './errors.js';
import { adminOrg, currentUser, repoWithRole, requireSuperuserRead } from './auth.js';
import { Endtime, OrgParams, RepoParams, Starttime, op, typed } from './schema.js';
import { formatDate, logView } from './views.js';
import type { ExportRequest, ExportScope } from '../../model/log_export.js';

const LOGS_PER_PAGE = 20;
const PAGE_TTL_S = 2 * 86400;
const DAY_MS = 86_400_000;
/** Kinds about the registry's own keys, hidden from user logs (as in Quay). */
const SERVICE_KINDS = ['service_key_create', 'service_key_approve', 'service_key_delete', 'service_key_modify', 'service_key_extend', 'service_key_rotate'];

/** `MM/DD/YYYY` (UTC) as Quay takes it; absent = null; malformed = 400. */
function parseDay(value: string | undefined, name: string): Date | null {
  if (value === undefined || value === '') return null;
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]))) : null;
  if (!d || d.getUTCMonth() !== Number(m![1]) - 1 || d.getUTCDate() !== Number(m![2])) throw badRequest(`Invalid ${name} "${value}": use MM/DD/YYYY (UTC)`);
  return d;
}

/** The end of the range is exclusive: the last day a range may include is 12/30/9999 (timestamps stop at year 9999). */
const LAST_END = Date.UTC(9999, 11, 31);

/** Quay's range: start defaults to a day ago; the end day is inclusive (end + 1 day), default today. */
function range(q: { starttime?: string; endtime?: string }): { start: Date; end: Date } {
  const now = Date.now();
  const start = parseDay(q.starttime, 'starttime') ?? new Date(now - DAY_MS);
  const end = new Date((parseDay(q.endtime, 'endtime')?.getTime() ?? now) + DAY_MS);
  if (end.getTime() > LAST_END) throw badRequest('Invalid date range: dates must be before 12/31/9999');
  if (end < start) throw badRequest('Invalid date range: endtime is before starttime');
  return { start, end };
}

const LogQuery = Type.Object({
  starttime: Starttime,
  endtime: Endtime,
  performer: Type.Optional(Type.String({ description: 'Username for which to filter logs.' })),
  filter: Type.Optional(Type.String({ maxLength: 255, description: 'Only entries whose kind, performer or metadata contain this text (case-insensitive)' })),
  next_page: Type.Optional(Type.String({ description: 'The page token for the next page' })),
});
const ExportQuery = Type.Object({ starttime: Starttime, endtime: Endtime });
const ExportLogs = Type.Object(
  {
    callback_url: Type.Optional(Type.String({ maxLength: 2048, description: 'The callback URL to invoke with a link to the exported logs' })),
    callback_email: Type.Optional(Type.String({ maxLength: 254, description: 'The e-mail address at which to e-mail a link to the exported logs' })),
  },
  { description: 'Configuration for an export logs operation' },
);
type LogQueryT = { starttime?: string; endtime?: string; performer?: string; filter?: string; next_page?: string };

interface Sealed {
  /** What the token was issued for, so it only continues the same listing. */
  k: string;
  s: string;
  e: string;
  c: LogCursor;
}

export async function logRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'logs';

  const performerFilter = async (name: string | undefined): Promise<number | undefined> => {
    if (!name) return undefined;
    const p = await rt.namespaces.byName(name);
    return p ? p.id : -1;
  };

  /** One page: the range and cursor come from the sealed token when there is one. */
  const page = async (key: string, q: LogQueryT, base: Omit<LogFilter, 'start' | 'end'>, includeNamespace: boolean) => {
    let { start, end } = range(q);
    let cursor: LogCursor | null = null;
    if (q.next_page) {
      const t = rt.tenancy.pages.openJson<Sealed>(q.next_page);
      if (!t || t.k !== key) throw badRequest('Invalid or expired next_page token');
      start = new Date(t.s);
      end = new Date(t.e);
      cursor = t.c;
    }
    const filter: LogFilter = { ...base, start, end, performerId: await performerFilter(q.performer), text: q.filter || undefined };
    const { rows, next } = await rt.tenancy.logReader.page(filter, cursor, LOGS_PER_PAGE);
    return {
      start_time: formatDate(start),
      end_time: formatDate(end),
      logs: rows.map((r) => logView(r, includeNamespace)),
      ...(next ? { next_page: rt.tenancy.pages.sealJson({ k: key, s: start.toISOString(), e: end.toISOString(), c: next } satisfies Sealed, PAGE_TTL_S) } : {}),
    };
  };

  const aggregate = async (q: LogQueryT, base: Omit<LogFilter, 'start' | 'end'>) => {
    if (!rt.config.FEATURE_AGGREGATED_LOG_COUNT_RETRIEVAL) throw notFound();
    const { start, end } = range(q);
    const rows = await rt.tenancy.logReader.aggregate({ ...base, start, end, performerId: await performerFilter(q.performer), text: q.filter || undefined });
    return { aggregated: rows.map((r) => ({ kind: r.kind, count: r.count, datetime: formatDate(r.day) })) };
  };

  const repoScope = async (req: FastifyRequest, p: { namespace: string; repository: string }) => {
    const { repo, namespace } = await repoWithRole(rt, req, `${p.namespace}/${p.repository}`, 'admin');
    return { key: `repo:${repo.id}`, base: { repositoryId: repo.id, namespaceId: namespace.id } };
  };
  const userScope = async (req: FastifyRequest) => {
    const user = await currentUser(rt, req);
    return { key: `user:${user.id}`, base: { namespaceId: user.id, excludeKinds: SERVICE_KINDS } };
  };
  const orgScope = async (req: FastifyRequest, orgname: string) => {
    const org = await adminOrg(rt, req, orgname);
    return { key: `org:${org.id}`, base: { namespaceId: org.id } };
  };

  app.get(
    '/repository/:namespace/:repository/logs',
    {
      schema: { ...op('listRepoLogs', tag, 'List the logs for the specified repository.', 'repo:admin'), params: RepoParams, querystring: LogQuery },
      config: { scope: 'repo:admin' },
    },
    async (req) => {
      const s = await repoScope(req, req.params);
      return page(s.key, req.query, s.base, false);
    },
  );
  app.get(
    '/repository/:namespace/:repository/aggregatelogs',
    {
      schema: { ...op('getAggregateRepoLogs', tag, 'Returns the aggregated logs for the specified repository.', 'repo:admin'), params: RepoParams, querystring: LogQuery },
      config: { scope: 'repo:admin' },
    },
    async (req) => {
      const s = await repoScope(req, req.params);
      return aggregate(req.query, s.base);
    },
  );

  app.get(
    '/user/logs',
    { schema: { ...op('listUserLogs', tag, 'List the logs for the current user.', 'user:admin'), querystring: LogQuery }, config: { scope: 'user:admin' } },
    async (req) => {
      const s = await userScope(req);
      return page(s.key, req.query, s.base, false);
    },
  );
  app.get(
    '/user/aggregatelogs',
    { schema: { ...op('getAggregateUserLogs', tag, 'Returns the aggregated logs for the current user.', 'user:admin'), querystring: LogQuery }, config: { scope: 'user:admin' } },
    async (req) => {
      const s = await userScope(req);
      return aggregate(req.query, s.base);
    },
  );

  app.get(
    '/organization/:orgname/logs',
    {
      schema: { ...op('listOrgLogs', tag, 'List the logs for the specified organization.', 'org:admin'), params: OrgParams, querystring: LogQuery },
      config: { scope: 'org:admin' },
    },
    async (req) => {
      const s = await orgScope(req, req.params.orgname);
      return page(s.key, req.query, s.base, false);
    },
  );
  app.get(
    '/organization/:orgname/aggregatelogs',
    {
      schema: { ...op('getAggregateOrgLogs', tag, 'Gets the aggregated logs for the specified organization.', 'org:admin'), params: OrgParams, querystring: LogQuery },
      config: { scope: 'org:admin' },
    },
    async (req) => {
      const s = await orgScope(req, req.params.orgname);
      return aggregate(req.query, s.base);
    },
  );

  /** Queue an export (Quay's `{"export_id": …}`); 404 when FEATURE_LOG_EXPORT is off. */
  const exportLogs = async (req: FastifyRequest, scope: ExportScope, q: { starttime?: string; endtime?: string }, body: ExportRequest | undefined) => {
    if (!rt.config.FEATURE_LOG_EXPORT) throw notFound();
    return { export_id: await rt.logExports.request(scope, { ...q, ...body }, req.principal, req.ip) };
  };
  const exportSchema = { querystring: ExportQuery, body: Type.Optional(ExportLogs) };

  app.post(
    '/repository/:namespace/:repository/exportlogs',
    {
      schema: { ...op('exportRepoLogs', tag, 'Queues an export of the logs for the specified repository.', 'repo:admin'), params: RepoParams, ...exportSchema },
      config: { scope: 'repo:admin' },
    },
    async (req) => {
      const { repo, namespace } = await repoWithRole(rt, req, `${req.params.namespace}/${req.params.repository}`, 'admin');
      return exportLogs(req, { namespace, repository: repo }, req.query, req.body);
    },
  );
  app.post(
    '/user/exportlogs',
    { schema: { ...op('exportUserLogs', tag, 'Queues an export of the logs for the current user.', 'user:admin'), ...exportSchema }, config: { scope: 'user:admin' } },
    async (req) => {
      const user = await currentUser(rt, req);
      return exportLogs(req, { namespace: user }, req.query, req.body);
    },
  );
  app.post(
    '/organization/:orgname/exportlogs',
    {
      schema: { ...op('exportOrgLogs', tag, 'Exports the logs for the specified organization.', 'org:admin'), params: OrgParams, ...exportSchema },
      config: { scope: 'org:admin' },
    },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      return exportLogs(req, { namespace: org }, req.query, req.body);
    },
  );

  app.get(
    '/superuser/logs',
    {
      schema: { ...op('listAllLogs', 'superuser', 'List the usage logs for the current system.', 'super:user'), querystring: LogQuery },
      config: { scope: 'super:user', fresh: true },
    },
    async (req) => {
      requireSuperuserRead(rt, req);
      return page('all', req.query, {}, true);
    },
  );
  app.get(
    '/superuser/aggregatelogs',
    {
      schema: { ...op('listAllAggregateLogs', 'superuser', 'Returns the aggregated logs for the current system.', 'super:user'), querystring: LogQuery },
      config: { scope: 'super:user', fresh: true },
    },
    async (req) => {
      requireSuperuserRead(rt, req);
      return aggregate(req.query, {});
    },
  );
}
