/**
 * The superuser panel's service keys (Quay: endpoints/api/superuser.py SuperUserServiceKeyManagement,
 * SuperUserServiceKey, SuperUserServiceKeyApproval): list, create (a preshared key, approved at once; its
 * private key is answered once), get, rename/extend, delete, approve. Every change is a `service_key_*` log.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { APPROVAL_TYPES, ServiceKeyError, validKeyName, type ServiceKeyRow } from '../../model/service_keys.js';
import { badRequest, notFound } from './errors.js';
import { currentUser, requireSuperuser, requireSuperuserRead } from './auth.js';
import { op, typed } from './schema.js';
import { userSummary } from './views.js';

const tag = 'superuser';
const Expiration = Type.Optional(Type.Union([Type.Null(), Type.Number()], { description: 'The expiration date as a unix timestamp' }));
const Metadata = Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "The key/value pairs of this key's metadata" }));
const KidParams = Type.Object({ kid: Type.String({ description: 'The unique identifier for a service key' }) });

/** Dates as Flask's jsonify writes a datetime: `Wed, 21 Oct 2015 07:28:00 GMT`. */
const httpDate = (d: Date | null) => (d ? d.toUTCString() : null);

/** A unix timestamp in the future, or null (never expires); Quay's texts for the rest. */
function futureExpiration(value: number | null | undefined, pastText: string): Date | null {
  if (value === null || value === undefined) return null;
  const d = new Date(value * 1000);
  if (Number.isNaN(d.getTime())) throw badRequest(`Invalid expiration date: ${value}`);
  if (d.getTime() <= Date.now()) throw badRequest(pastText);
  return d;
}

export async function serviceKeyRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const cfg = { scope: 'super:user' as const, fresh: true };

  const keyView = async (k: ServiceKeyRow) => {
    let approver = null;
    if (k.approval?.approver_id) {
      const u = await rt.namespaces.byId(k.approval.approver_id);
      if (u) approver = userSummary(u, rt.namespaces.isSuperuser(u), rt.namespaces.isGlobalReadonlySuperuser(u));
    }
    return {
      name: k.name,
      kid: k.kid,
      service: k.service,
      jwk: k.jwk,
      metadata: k.metadata,
      created_date: httpDate(k.created_date),
      expiration_date: httpDate(k.expiration_date),
      rotation_duration: k.rotation_duration,
      approval: k.approval ? { approver, approval_type: k.approval.approval_type, approved_date: httpDate(k.approval.approved_date), notes: k.approval.notes } : null,
    };
  };

  const existing = async (kid: string) => {
    const k = await rt.serviceKeys.get(kid);
    if (!k) throw notFound();
    return k;
  };

  const log = (req: FastifyRequest, kind: string, metadata: Record<string, unknown>) => rt.logs.log({ kind, performer: req.principal, namespaceId: null, ip: req.ip, metadata });

  app.get('/superuser/keys', { schema: op('listServiceKeys', tag, 'List all service keys.', 'super:user'), config: cfg }, async (req) => {
    requireSuperuserRead(rt, req);
    return { keys: await Promise.all((await rt.serviceKeys.listAll()).map(keyView)) };
  });

  app.post(
    '/superuser/keys',
    {
      schema: {
        ...op('createServiceKey', tag, 'Create a service key; its private key is returned once.', 'super:user'),
        body: Type.Object(
          {
            service: Type.String({ description: 'The service authenticating with this key' }),
            name: Type.Optional(Type.String({ description: 'The friendly name of a service key' })),
            metadata: Metadata,
            notes: Type.Optional(Type.String({ description: 'If specified, the extra notes for the key' })),
            expiration: Type.Union([Type.Null(), Type.Number()], { description: 'The expiration date as a unix timestamp' }),
          },
          { description: 'Description of creation of a service key' },
        ),
      },
      config: cfg,
    },
    async (req) => {
      requireSuperuser(rt, req);
      const me = await currentUser(rt, req);
      const body = req.body;
      const name = body.name ?? '';
      if (!validKeyName(name)) throw badRequest(`Invalid service key friendly name: ${name}`);
      const expiration = futureExpiration(body.expiration, 'Expiration date cannot be in the past');
      const metadata = { ...(body.metadata ?? {}), created_by: 'Quay Superuser Panel', creator: me.name, ip: req.ip };
      let created;
      try {
        created = await rt.serviceKeys.createPreshared({ service: body.service, name, metadata, expiration, notes: body.notes ?? '', approverId: me.id });
      } catch (err) {
        if (err instanceof ServiceKeyError) throw badRequest(err.message);
        throw err;
      }
      const logMeta = { kid: created.key.kid, preshared: true, service: body.service, name, expiration_date: expiration?.toISOString() ?? null, auto_approved: true };
      log(req, 'service_key_create', logMeta);
      log(req, 'service_key_approve', logMeta);
      return { kid: created.key.kid, name, service: body.service, public_key: created.publicPem, private_key: created.privatePem };
    },
  );

  app.get(
    '/superuser/keys/:kid',
    { schema: { ...op('getServiceKey', tag, 'Returns information about the specified service key.', 'super:user'), params: KidParams }, config: cfg },
    async (req) => {
      requireSuperuserRead(rt, req);
      return keyView(await existing(req.params.kid));
    },
  );

  app.put(
    '/superuser/keys/:kid',
    {
      schema: {
        ...op('updateServiceKey', tag, 'Updates the friendly name, metadata or expiration of a service key.', 'super:user'),
        params: KidParams,
        body: Type.Object(
          { name: Type.Optional(Type.String({ description: 'The friendly name of a service key' })), metadata: Metadata, expiration: Expiration },
          { description: 'Description of updates for a service key' },
        ),
      },
      config: cfg,
    },
    async (req) => {
      requireSuperuser(rt, req);
      const body = req.body ?? {};
      const key = await existing(req.params.kid);
      const logMeta: Record<string, unknown> = { kid: key.kid, service: key.service, name: body.name ?? key.name, expiration_date: key.expiration_date?.toISOString() ?? null };
      if ('expiration' in body) {
        const expiration = futureExpiration(body.expiration, 'Cannot have an expiration date in the past');
        await rt.serviceKeys.setExpiration(key.kid, expiration);
        log(req, 'service_key_extend', { ...logMeta, old_expiration_date: logMeta.expiration_date, expiration_date: expiration?.toISOString() ?? null });
      }
      if ('name' in body || 'metadata' in body) {
        if (!validKeyName(body.name)) throw badRequest(`Invalid service key friendly name: ${body.name}`);
        await rt.serviceKeys.update(key.kid, body.name, body.metadata);
        log(req, 'service_key_modify', logMeta);
      }
      return keyView(await existing(key.kid));
    },
  );

  app.delete('/superuser/keys/:kid', { schema: { ...op('deleteServiceKey', tag, 'Deletes a service key.', 'super:user'), params: KidParams }, config: cfg }, async (req, reply) => {
    requireSuperuser(rt, req);
    let key;
    try {
      key = await rt.serviceKeys.delete(req.params.kid);
    } catch (err) {
      if (err instanceof ServiceKeyError) throw notFound();
      throw err;
    }
    log(req, 'service_key_delete', {
      kid: key.kid,
      service: key.service,
      name: key.name,
      created_date: key.created_date.toISOString(),
      expiration_date: key.expiration_date?.toISOString() ?? null,
    });
    return reply.code(204).send();
  });

  app.post(
    '/superuser/approvedkeys/:kid',
    {
      schema: {
        ...op('approveServiceKey', tag, 'Approves a service key a service submitted.', 'super:user'),
        params: KidParams,
        body: Type.Optional(
          Type.Object({ notes: Type.Optional(Type.String({ description: 'Optional approval notes' })) }, { description: 'Information for approving service keys' }),
        ),
      },
      config: cfg,
    },
    async (req, reply) => {
      requireSuperuser(rt, req);
      const me = await currentUser(rt, req);
      try {
        const key = await rt.serviceKeys.approve(req.params.kid, me.id, APPROVAL_TYPES.superuser, req.body?.notes ?? '');
        log(req, 'service_key_approve', { kid: key.kid, service: key.service, name: key.name, expiration_date: key.expiration_date?.toISOString() ?? null });
      } catch (err) {
        if (!(err instanceof ServiceKeyError)) throw err;
        if (err.reason === 'not_found') throw notFound();
        // Approving an approved key changes nothing and is no error (as Quay).
      }
      // Quay answers 201 with an empty text body.
      return reply.code(201).type('text/html; charset=utf-8').send('');
    },
  );
}
