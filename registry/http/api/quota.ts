/**
 * Quota on the REST API (user guide chapter 14): `/organization/{org}/quota[/{id}[/limit[/{limit_id}]]]`.
 * The same resource is mounted for superusers on any namespace (superuser_quota.ts) and read-only for a user
 * on its own namespace (user_quota.ts). Quota writes are a superuser's; reads are the namespace's members'.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyContextConfig, FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import { MAX_QUOTA_BYTES, parseHumanSize, type LimitType, type QuotaRow } from '../../model/quota.js';
import { requireSuperuser, unauthorizedFor } from './auth.js';
import { op, sendJsonString } from './schema.js';
import { pyRepr } from './validation.js';
import { badRequest, notFound } from './errors.js';

const QuotaBody = Type.Object({
  limit_bytes: Type.Optional(Type.Unknown({ description: 'Number of bytes the quota allows' })),
  limit: Type.Optional(Type.Unknown({ description: 'Human readable size, e.g. "10 GiB"' })),
});
const LimitBody = Type.Object({
  type: Type.Optional(Type.Unknown({ description: 'Warning or Reject' })),
  threshold_percent: Type.Optional(Type.Unknown({ description: 'Percent of the quota (1-100) at which the limit applies' })),
});

export interface QuotaMount {
  /** `/organization/:orgname`, `/superuser/users/:namespace`, `/user` ... */
  prefix: string;
  params: TSchema;
  tag: string;
  /** The namespace the request addresses, after checking the caller may at least read its quota. */
  namespace(req: FastifyRequest): Promise<NamespaceRow>;
  /** May the caller change quotas here? */
  canWrite: boolean;
  /** operationId suffix (Quay's superuser variants end in `SuperUser`) */
  opSuffix?: string;
  /** operationId prefix */
  opPrefix: string;
}

function quotaView(rt: Runtime, q: QuotaRow): Record<string, unknown> {
  return {
    id: q.id,
    limit_bytes: q.limit_bytes,
    default_config: false,
    limits: q.limits.map((l) => ({ id: l.id, type: l.type, limit_percent: l.threshold_percent })),
    default_config_exists: rt.config.DEFAULT_SYSTEM_REJECT_QUOTA_BYTES > 0,
  };
}

/** The synthetic quota Quay shows where only DEFAULT_SYSTEM_REJECT_QUOTA_BYTES applies. */
export function defaultQuotaView(rt: Runtime): Record<string, unknown> | null {
  const def = rt.config.DEFAULT_SYSTEM_REJECT_QUOTA_BYTES;
  if (def <= 0) return null;
  return { id: null, limit_bytes: def, default_config: true, limits: [{ id: null, type: 'Reject', limit_percent: 100 }], default_config_exists: true };
}

/**
 * `quotas` and `quota_report` as Quay adds them to user, organization and superuser listing views (only with
 * quota management on; `{}` otherwise).
 */
export async function namespaceQuotaFields(rt: Runtime, ns: Pick<NamespaceRow, 'id'>): Promise<Record<string, unknown>> {
  if (!rt.config.FEATURE_QUOTA_MANAGEMENT || !rt.config.FEATURE_EDIT_QUOTA) return {};
  const quota = await rt.quotas.forNamespace(ns.id);
  return {
    quotas: quota ? [{ id: quota.id, limit_bytes: quota.limit_bytes, limits: quota.limits.map((l) => ({ id: l.id, type: l.type, limit_percent: l.threshold_percent })) }] : [],
    quota_report: await rt.quotas.namespaceReport(ns.id),
  };
}

/** `limit_bytes` (integer) or `limit` ("10 GiB"), exactly one, 1 byte to 8 EiB. */
type QuotaInput = { limit_bytes?: unknown; limit?: unknown } | undefined;
type LimitInput = { type?: unknown; threshold_percent?: unknown } | undefined;

function limitBytesOf(body: QuotaInput): number {
  const hasBytes = body?.limit_bytes !== undefined && body.limit_bytes !== null;
  const hasHuman = body?.limit !== undefined && body.limit !== null;
  if (hasBytes === hasHuman) throw badRequest('Give exactly one of limit_bytes (a number of bytes) or limit (e.g. "10 GiB")');
  let bytes: number | null;
  if (hasBytes) {
    bytes = typeof body!.limit_bytes === 'number' && Number.isInteger(body!.limit_bytes) ? body!.limit_bytes : null;
    // jsonschema's text, as Quay's NewOrgQuota schema (`"type": "integer"`) answers it: "1000" is no integer.
    if (bytes === null) throw badRequest(`${pyRepr(body!.limit_bytes)} is not of type 'integer'\n\nOn instance['limit_bytes']:\n    ${pyRepr(body!.limit_bytes)}`);
  } else {
    bytes = typeof body!.limit === 'string' ? parseHumanSize(body!.limit) : null;
    if (bytes === null) throw badRequest(`Invalid limit ${JSON.stringify(body!.limit)}: use a size such as "500 MiB" or "10 GB"`);
  }
  if (bytes <= 0) throw badRequest('Invalid quota size: it must be greater than zero');
  if (bytes > MAX_QUOTA_BYTES) throw badRequest(`Invalid quota size: at most ${MAX_QUOTA_BYTES} bytes`);
  return bytes;
}

function limitOf(body: LimitInput, current?: { type: LimitType; threshold_percent: number }): { type: LimitType; percent: number } {
  const type = body?.type ?? current?.type;
  const percent = body?.threshold_percent ?? current?.threshold_percent;
  if (type !== 'Warning' && type !== 'Reject') throw badRequest(`Invalid limit type ${JSON.stringify(type ?? null)}: use "Warning" or "Reject"`);
  if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 1 || percent > 100) {
    throw badRequest(`Invalid threshold_percent ${JSON.stringify(percent ?? null)}: use a whole number from 1 to 100`);
  }
  return { type, percent };
}

function idParam(value: string): number {
  if (!/^[0-9]{1,15}$/.test(value)) throw notFound();
  return Number(value);
}

export async function quotaResource(app: FastifyInstance, rt: Runtime, m: QuotaMount): Promise<void> {
  // Plain routes: the params schema differs per mount, so handlers read typed params themselves.
  const t = app;
  const IdParams = Type.Composite([m.params as never, Type.Object({ quota_id: Type.String() })]);
  const LimitParams = Type.Composite([IdParams, Type.Object({ limit_id: Type.String() })]);
  const enabled = () => {
    if (!rt.config.FEATURE_QUOTA_MANAGEMENT || !rt.config.FEATURE_EDIT_QUOTA) throw notFound();
  };
  const writer = (req: FastifyRequest) => {
    if (!m.canWrite) throw unauthorizedFor(req.principal);
    requireSuperuser(rt, req);
  };
  const quotaOf = async (ns: NamespaceRow, id: string) => {
    const q = await rt.quotas.forNamespace(ns.id);
    if (!q || q.id !== idParam(id)) throw notFound();
    return q;
  };
  const existingLimit = async (ns: NamespaceRow, p: { quota_id: string; limit_id: string }) => {
    const q = await quotaOf(ns, p.quota_id);
    const current = q.limits.find((x) => x.id === idParam(p.limit_id));
    if (!current) throw notFound();
    return { q, current };
  };
  const log = (req: FastifyRequest, ns: NamespaceRow, kind: string, metadata: Record<string, unknown>) =>
    rt.logs.log({ kind, performer: req.principal, namespaceId: ns.id, ip: req.ip, metadata: { namespace: ns.name, ...metadata } });
  const cfg = { scope: m.canWrite ? ('super:user' as const) : ('user:read' as const) };
  const readCfg: FastifyContextConfig = m.canWrite ? {} : { scope: 'user:read' };

  t.get(
    `${m.prefix}/quota`,
    { schema: { ...op(`list${m.opPrefix}Quota${m.opSuffix ?? ''}`, m.tag, 'List the quota of the namespace.'), params: m.params }, config: readCfg },
    async (req) => {
      enabled();
      const ns = await m.namespace(req);
      const q = await rt.quotas.forNamespace(ns.id);
      if (q) return [quotaView(rt, q)];
      const def = defaultQuotaView(rt);
      return def ? [def] : [];
    },
  );

  t.get(
    `${m.prefix}/quota/:quota_id`,
    { schema: { ...op(`get${m.opPrefix}Quota${m.opSuffix ?? ''}`, m.tag, 'Get a quota of the namespace.'), params: IdParams }, config: readCfg },
    async (req) => {
      enabled();
      const ns = await m.namespace(req);
      return quotaView(rt, await quotaOf(ns, (req.params as { quota_id: string }).quota_id));
    },
  );

  t.get(
    `${m.prefix}/quota/:quota_id/limit`,
    { schema: { ...op(`list${m.opPrefix}QuotaLimit${m.opSuffix ?? ''}`, m.tag, 'List the limits of a quota.'), params: IdParams }, config: readCfg },
    async (req) => {
      enabled();
      const ns = await m.namespace(req);
      const q = await quotaOf(ns, (req.params as { quota_id: string }).quota_id);
      return q.limits.map((l) => ({ id: l.id, type: l.type, limit_percent: l.threshold_percent }));
    },
  );

  t.get(
    `${m.prefix}/quota/:quota_id/limit/:limit_id`,
    { schema: { ...op(`get${m.opPrefix}QuotaLimit${m.opSuffix ?? ''}`, m.tag, 'Get a limit of a quota.'), params: LimitParams }, config: readCfg },
    async (req) => {
      enabled();
      const ns = await m.namespace(req);
      const p = req.params as { quota_id: string; limit_id: string };
      const q = await quotaOf(ns, p.quota_id);
      const l = q.limits.find((x) => x.id === idParam(p.limit_id));
      if (!l) throw notFound();
      return { id: l.id, type: l.type, limit_percent: l.threshold_percent };
    },
  );

  if (!m.canWrite) return;

  t.post(
    `${m.prefix}/quota`,
    {
      schema: {
        ...op(`create${m.opPrefix}Quota${m.opSuffix ?? ''}`, m.tag, 'Create the quota of the namespace (one per namespace).', 'super:user'),
        params: m.params,
        body: Type.Optional(QuotaBody),
      },
      config: cfg,
    },
    async (req, reply) => {
      enabled();
      writer(req);
      const ns = await m.namespace(req);
      const bytes = limitBytesOf(req.body as QuotaInput);
      const q = await rt.quotas.create(ns.id, bytes);
      if (!q) throw badRequest(`Quota for ${ns.name} already exists`);
      log(req, ns, 'org_create_quota', { quota_id: q.id, limit_bytes: bytes });
      return sendJsonString(reply, 201, 'Created');
    },
  );

  t.put(
    `${m.prefix}/quota/:quota_id`,
    {
      schema: { ...op(`change${m.opPrefix}Quota${m.opSuffix ?? ''}`, m.tag, 'Change the size of a quota.', 'super:user'), params: IdParams, body: Type.Optional(QuotaBody) },
      config: cfg,
    },
    async (req) => {
      enabled();
      writer(req);
      const ns = await m.namespace(req);
      const q = await quotaOf(ns, (req.params as { quota_id: string }).quota_id);
      const body = req.body as QuotaInput;
      if (body && (body.limit_bytes !== undefined || body.limit !== undefined)) {
        const bytes = limitBytesOf(body);
        await rt.quotas.setLimitBytes(q.id, bytes);
        log(req, ns, 'org_change_quota', { quota_id: q.id, limit_bytes: bytes, previous_limit_bytes: q.limit_bytes });
      }
      return quotaView(rt, (await rt.quotas.forNamespace(ns.id))!);
    },
  );

  t.delete(
    `${m.prefix}/quota/:quota_id`,
    { schema: { ...op(`delete${m.opPrefix}Quota${m.opSuffix ?? ''}`, m.tag, 'Delete the quota of the namespace.', 'super:user'), params: IdParams }, config: cfg },
    async (req, reply) => {
      enabled();
      writer(req);
      const ns = await m.namespace(req);
      const q = await quotaOf(ns, (req.params as { quota_id: string }).quota_id);
      await rt.quotas.delete(q.id);
      log(req, ns, 'org_delete_quota', { quota_id: q.id });
      return reply.code(204).send();
    },
  );

  t.post(
    `${m.prefix}/quota/:quota_id/limit`,
    {
      schema: {
        ...op(`create${m.opPrefix}QuotaLimit${m.opSuffix ?? ''}`, m.tag, 'Add a Warning or Reject limit to a quota.', 'super:user'),
        params: IdParams,
        body: Type.Optional(LimitBody),
      },
      config: cfg,
    },
    async (req, reply) => {
      enabled();
      writer(req);
      const ns = await m.namespace(req);
      const q = await quotaOf(ns, (req.params as { quota_id: string }).quota_id);
      const { type, percent } = limitOf(req.body as LimitInput);
      const l = await rt.quotas.addLimit(q.id, type, percent);
      if (!l) throw badRequest('Quota limit already exists');
      log(req, ns, 'org_create_quota_limit', { quota_id: q.id, limit_id: l.id, type, threshold_percent: percent });
      return sendJsonString(reply, 201, 'Created');
    },
  );

  t.put(
    `${m.prefix}/quota/:quota_id/limit/:limit_id`,
    {
      schema: { ...op(`change${m.opPrefix}QuotaLimit${m.opSuffix ?? ''}`, m.tag, 'Change a limit of a quota.', 'super:user'), params: LimitParams, body: Type.Optional(LimitBody) },
      config: cfg,
    },
    async (req) => {
      enabled();
      writer(req);
      const ns = await m.namespace(req);
      const { q, current } = await existingLimit(ns, req.params as { quota_id: string; limit_id: string });
      const { type, percent } = limitOf(req.body as LimitInput, current);
      if (!(await rt.quotas.updateLimit(current.id, type, percent))) throw badRequest('Quota limit already exists');
      log(req, ns, 'org_change_quota_limit', { quota_id: q.id, limit_id: current.id, type, threshold_percent: percent });
      // Quay answers a limit change with the whole quota, its limits included.
      return quotaView(rt, (await rt.quotas.forNamespace(ns.id))!);
    },
  );

  t.delete(
    `${m.prefix}/quota/:quota_id/limit/:limit_id`,
    { schema: { ...op(`delete${m.opPrefix}QuotaLimit${m.opSuffix ?? ''}`, m.tag, 'Delete a limit of a quota.', 'super:user'), params: LimitParams }, config: cfg },
    async (req, reply) => {
      enabled();
      writer(req);
      const ns = await m.namespace(req);
      const { q, current } = await existingLimit(ns, req.params as { quota_id: string; limit_id: string });
      await rt.quotas.deleteLimit(current.id);
      log(req, ns, 'org_delete_quota_limit', { quota_id: q.id, limit_id: current.id });
      return reply.code(204).send();
    },
  );
}

/** `/organization/{org}/quota...`: members read, superusers write. */
export async function organizationQuotaRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  await quotaResource(app, rt, {
    prefix: '/organization/:orgname',
    params: Type.Object({ orgname: Type.String() }),
    tag: 'organization',
    opPrefix: 'Organization',
    canWrite: true,
    async namespace(req) {
      const name = (req.params as { orgname: string }).orgname;
      const ns = await rt.namespaces.byName(name);
      if (!ns || ns.kind !== 'org') throw notFound(`Organization ${name} not found`);
      const p = req.principal;
      if (!rt.permissions.canReadAsSuperuser(p) && !(await rt.permissions.isOrgMember(p, ns))) throw unauthorizedFor(p);
      return ns;
    },
  });
}
