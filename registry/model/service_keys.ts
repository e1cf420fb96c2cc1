/**
 * Service keys (Quay: data/model/service_keys.py): public JWKs that services sign their JWTs with. Three ways
 * in: the instance's own signing keys (approved automatically, registry/auth/tokens.ts), keys a superuser
 * creates (approved by that superuser; the private half is returned once and never stored), and keys a
 * service submits itself through /keys (self-signed, unapproved until a superuser approves them; an approved
 * key may rotate itself into a new one, which inherits its approval).
 */
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Db, Queryable } from '../db/index.js';
import type { Notifications } from './notifications.js';

export const APPROVAL_TYPES = { superuser: 'Super User API', rotation: 'Key Rotation', automatic: 'Automatic' } as const;
export type ApprovalType = (typeof APPROVAL_TYPES)[keyof typeof APPROVAL_TYPES];

/** Quay's VALID_SERVICE_KEY_NAME_REGEX (friendly names) and _SERVICE_NAME_REGEX (service names). */
const KEY_NAME = /^[\s a-zA-Z0-9\-_:/]*$/;
const SERVICE_NAME = /^[a-z0-9_]+$/;

export class ServiceKeyError extends Error {
  constructor(
    readonly reason: 'not_found' | 'already_approved' | 'invalid_service' | 'invalid_jwk' | 'exists',
    message: string,
  ) {
    super(message);
  }
}

export interface ServiceKeyApproval {
  approver_id: number | null;
  approver_name: string | null;
  approval_type: ApprovalType;
  approved_date: Date;
  notes: string;
}

export interface ServiceKeyRow {
  kid: string;
  name: string;
  service: string;
  /** The public key (with its kid). */
  jwk: JWK;
  metadata: Record<string, unknown>;
  created_date: Date;
  expiration_date: Date | null;
  rotation_duration: number | null;
  approval: ServiceKeyApproval | null;
}

interface DbRow {
  kid: string;
  name: string;
  service: string;
  public_jwk: JWK;
  metadata: Record<string, unknown>;
  created_at: Date;
  expiration_date: Date | null;
  rotation_duration: number | null;
  approval_type: ApprovalType | null;
  approver_id: number | null;
  approver_name: string | null;
  approved_date: Date | null;
  approval_notes: string;
}

const SELECT = `SELECT k.kid, k.name, k.service, k.public_jwk, k.metadata, k.created_at, k.expiration_date, k.rotation_duration,
  k.approval_type, k.approver_id, a.name AS approver_name, k.approved_date, k.approval_notes
  FROM service_key k LEFT JOIN namespace a ON a.id = k.approver_id`;

function toRow(r: DbRow): ServiceKeyRow {
  return {
    kid: r.kid,
    name: r.name,
    service: r.service,
    jwk: { ...r.public_jwk, kid: r.kid },
    metadata: r.metadata,
    created_date: r.created_at,
    expiration_date: r.expiration_date,
    rotation_duration: r.rotation_duration,
    approval: r.approval_type
      ? { approver_id: r.approver_id, approver_name: r.approver_name, approval_type: r.approval_type, approved_date: r.approved_date!, notes: r.approval_notes }
      : null,
  };
}

export const validKeyName = (name: string | null | undefined) => name == null || KEY_NAME.test(name);

/** Only public RSA and EC keys are accepted from services (Quay's _validate_jwk); anything private is dropped. */
export function publicJwk(jwk: unknown): JWK {
  const j = jwk as Record<string, unknown> | null;
  if (!j || typeof j !== 'object') throw new ServiceKeyError('invalid_jwk', 'The key is not a JWK');
  if (j.kty === 'RSA' && typeof j.n === 'string' && typeof j.e === 'string') return { kty: 'RSA', n: j.n, e: j.e };
  if (j.kty === 'EC' && typeof j.x === 'string' && typeof j.y === 'string' && typeof j.crv === 'string') return { kty: 'EC', crv: j.crv, x: j.x, y: j.y };
  throw new ServiceKeyError('invalid_jwk', 'The key must be an RSA (n, e) or EC (crv, x, y) public JWK');
}

export class ServiceKeys {
  constructor(
    private readonly db: Db,
    private readonly notifications: Notifications,
    /** Ids of the accounts notified when a service submits a key (SUPER_USERS). */
    private readonly superuserIds: () => Promise<number[]>,
  ) {}

  /** Every key, approved or not, expired or not (the superuser panel's list). */
  async listAll(): Promise<ServiceKeyRow[]> {
    return (await this.db.query<DbRow>(`${SELECT} ORDER BY k.created_at, k.kid`)).rows.map(toRow);
  }

  /** The approved, unexpired keys of one service (what the key server publishes). */
  async listAlive(service: string): Promise<ServiceKeyRow[]> {
    const r = await this.db.query<DbRow>(
      `${SELECT} WHERE k.service = $1 AND k.approval_type IS NOT NULL AND (k.expiration_date IS NULL OR k.expiration_date > now()) ORDER BY k.created_at, k.kid`,
      [service],
    );
    return r.rows.map(toRow);
  }

  async get(kid: string, q: Queryable = this.db): Promise<ServiceKeyRow | null> {
    const r = await q.query<DbRow>(`${SELECT} WHERE k.kid = $1`, [kid]);
    return r.rows[0] ? toRow(r.rows[0]) : null;
  }

  /** An approved, unexpired key of `service` that may sign that service's JWTs. */
  async signer(kid: string, service: string): Promise<ServiceKeyRow | null> {
    const k = await this.get(kid);
    if (!k || k.service !== service || !k.approval) return null;
    if (k.expiration_date && k.expiration_date.getTime() <= Date.now()) return null;
    return k;
  }

  /**
   * A superuser's preshared key: a fresh RSA 2048 pair whose kid is the JWK thumbprint (RFC 7638), approved
   * by that superuser at once. Returns the private key as PEM; it is not stored anywhere.
   */
  async createPreshared(input: {
    service: string;
    name: string;
    metadata: Record<string, unknown>;
    expiration: Date | null;
    notes: string;
    approverId: number;
  }): Promise<{ key: ServiceKeyRow; privatePem: string; publicPem: string }> {
    if (!SERVICE_NAME.test(input.service)) throw new ServiceKeyError('invalid_service', `Invalid service name: ${input.service}`);
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicJwk(pair.publicKey.export({ format: 'jwk' }));
    const kid = await calculateJwkThumbprint(jwk);
    await this.db.query(
      `INSERT INTO service_key (kid, public_jwk, name, service, metadata, expiration_date, approval_type, approver_id, approved_date, approval_notes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), $9)`,
      [kid, JSON.stringify(jwk), input.name, input.service, JSON.stringify(input.metadata), input.expiration, APPROVAL_TYPES.superuser, input.approverId, input.notes],
    );
    return {
      key: (await this.get(kid))!,
      privatePem: pair.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(),
      publicPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    };
  }

  /** A key a service submitted for itself: stored unapproved, and every superuser is told (service_key_submitted). */
  async submit(input: {
    kid: string;
    service: string;
    jwk: JWK;
    metadata: Record<string, unknown>;
    expiration: Date | null;
    rotationDuration: number | null;
  }): Promise<ServiceKeyRow> {
    if (!SERVICE_NAME.test(input.service)) throw new ServiceKeyError('invalid_service', `Invalid service name: ${input.service}`);
    const superusers = await this.superuserIds();
    return this.db.tx(async (q) => {
      const r = await q.query(
        `INSERT INTO service_key (kid, public_jwk, name, service, metadata, expiration_date, rotation_duration) VALUES ($1, $2, '', $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING`,
        [input.kid, JSON.stringify(publicJwk(input.jwk)), input.service, JSON.stringify(input.metadata), input.expiration, input.rotationDuration],
      );
      if (!r.rowCount) throw new ServiceKeyError('exists', `A key with id ${input.kid} already exists`);
      const key = (await this.get(input.kid, q))!;
      const note = {
        name: key.name,
        kid: key.kid,
        service: key.service,
        jwk: key.jwk,
        metadata: key.metadata,
        created_date: Math.floor(key.created_date.getTime() / 1000),
        ...(key.expiration_date ? { expiration_date: Math.floor(key.expiration_date.getTime() / 1000) } : {}),
      };
      for (const id of superusers) await this.notifications.create(id, 'service_key_submitted', note, q);
      return key;
    });
  }

  /** Key rotation: `oldKid` (approved) is replaced by a new key that keeps its name, approval and metadata. */
  async rotate(oldKid: string, input: { kid: string; jwk: JWK; metadata: Record<string, unknown>; expiration: Date | null }): Promise<ServiceKeyRow> {
    return this.db.tx(async (q) => {
      const old = (await q.query('SELECT 1 FROM service_key WHERE kid = $1 FOR UPDATE', [oldKid])).rows[0];
      if (!old) throw new ServiceKeyError('not_found', `No service key ${oldKid}`);
      await q.query(
        `INSERT INTO service_key (kid, public_jwk, name, service, metadata, expiration_date, rotation_duration, approval_type, approver_id, approved_date, approval_notes)
         SELECT $2, $3, name, service, metadata || $4::jsonb, $5, rotation_duration, approval_type, approver_id, approved_date, approval_notes FROM service_key WHERE kid = $1`,
        [oldKid, input.kid, JSON.stringify(publicJwk(input.jwk)), JSON.stringify(input.metadata), input.expiration],
      );
      await q.query('DELETE FROM service_key WHERE kid = $1', [oldKid]);
      await this.dropSubmittedNotifications(oldKid, q);
      return (await this.get(input.kid, q))!;
    });
  }

  /** Approves a key; throws `already_approved` when it was (the caller decides whether that matters). */
  async approve(kid: string, approverId: number | null, type: ApprovalType, notes: string): Promise<ServiceKeyRow> {
    return this.db.tx(async (q) => {
      const cur = (await q.query<{ approval_type: string | null }>('SELECT approval_type FROM service_key WHERE kid = $1 FOR UPDATE', [kid])).rows[0];
      if (!cur) throw new ServiceKeyError('not_found', `No service key ${kid}`);
      if (cur.approval_type) throw new ServiceKeyError('already_approved', `Service key ${kid} is already approved`);
      await q.query('UPDATE service_key SET approval_type = $2, approver_id = $3, approved_date = now(), approval_notes = $4 WHERE kid = $1', [kid, type, approverId, notes]);
      await this.dropSubmittedNotifications(kid, q);
      return (await this.get(kid, q))!;
    });
  }

  /** Sets the friendly name (when given) and merges `metadata` into the key's. */
  async update(kid: string, name: string | undefined, metadata: Record<string, unknown> | undefined): Promise<void> {
    const r = await this.db.query('UPDATE service_key SET name = COALESCE($2, name), metadata = metadata || $3::jsonb WHERE kid = $1', [
      kid,
      name ?? null,
      JSON.stringify(metadata ?? {}),
    ]);
    if (!r.rowCount) throw new ServiceKeyError('not_found', `No service key ${kid}`);
  }

  async setExpiration(kid: string, expiration: Date | null): Promise<void> {
    const r = await this.db.query('UPDATE service_key SET expiration_date = $2 WHERE kid = $1', [kid, expiration]);
    if (!r.rowCount) throw new ServiceKeyError('not_found', `No service key ${kid}`);
  }

  async delete(kid: string): Promise<ServiceKeyRow> {
    return this.db.tx(async (q) => {
      const key = await this.get(kid, q);
      if (!key) throw new ServiceKeyError('not_found', `No service key ${kid}`);
      await q.query('DELETE FROM service_key WHERE kid = $1', [kid]);
      await this.dropSubmittedNotifications(kid, q);
      return key;
    });
  }

  /**
   * Removes what Quay's _gc_expired removes (data/model/service_keys.py): keys expired for longer than
   * `expiredTtlSec` (EXPIRED_SERVICE_KEY_TTL_SEC) and keys still unapproved `unapprovedTtlSec`
   * (UNAPPROVED_SERVICE_KEY_TTL_SEC) after their creation, with their pending approval notifications. Like
   * Quay, no usage log is written: nobody deleted them. Returns the kids removed.
   */
  async collectStale(expiredTtlSec: number, unapprovedTtlSec: number): Promise<string[]> {
    return this.db.tx(async (q) => {
      const r = await q.query<{ kid: string }>(
        `DELETE FROM service_key
          WHERE expiration_date <= now() - make_interval(secs => $1)
             OR (approval_type IS NULL AND created_at <= now() - make_interval(secs => $2))
          RETURNING kid`,
        [expiredTtlSec, unapprovedTtlSec],
      );
      const kids = r.rows.map((row) => row.kid);
      if (kids.length) await q.query(`DELETE FROM notification WHERE kind = 'service_key_submitted' AND metadata->>'kid' = ANY($1::text[])`, [kids]);
      return kids;
    });
  }

  /** The approval request is answered (approved, rotated away, deleted): superusers need not see it anymore. */
  private async dropSubmittedNotifications(kid: string, q: Queryable): Promise<void> {
    await q.query(`DELETE FROM notification WHERE kind = 'service_key_submitted' AND metadata->>'kid' = $1`, [kid]);
  }
}
