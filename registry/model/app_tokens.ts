/** App-specific tokens: per-user registry passwords (`$app`), each revocable on its own, optionally expiring. */
import type { Db } from '../db/index.js';
import { generateSecret } from '../auth/passwords.js';
import type { SecretBox } from '../auth/secrets.js';
import { APP_TOKEN_NAME_LENGTH } from '../auth/credentials.js';
import type { NamespaceRow } from './namespaces.js';
import { missing } from './orgs.js';

export interface AppTokenView {
  uuid: string;
  title: string;
  last_accessed: Date | null;
  created: Date;
  expiration: Date | null;
}

interface Row extends AppTokenView {
  token_name: string;
  secret_enc: string;
}

export class AppTokens {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    /** APP_SPECIFIC_TOKEN_EXPIRATION in seconds; null = never expires. */
    private readonly expirationS: number | null,
  ) {}

  private static readonly SELECT = 'SELECT uuid, title, last_accessed, created_at AS created, expiration, token_name, secret_enc FROM app_token';

  private code(row: Row): string {
    return row.token_name + (this.box.open(row.secret_enc) ?? '');
  }

  async create(user: NamespaceRow, title: string): Promise<AppTokenView & { token_code: string }> {
    const r = await this.db.query<Row>(
      `INSERT INTO app_token (user_id, title, token_name, secret_enc, expiration)
       VALUES ($1, $2, $3, $4, CASE WHEN $5::bigint IS NULL THEN NULL ELSE now() + make_interval(secs => $5::bigint) END)
       RETURNING uuid, title, last_accessed, created_at AS created, expiration, token_name, secret_enc`,
      [user.id, title, generateSecret(APP_TOKEN_NAME_LENGTH), this.box.seal(generateSecret(APP_TOKEN_NAME_LENGTH)), this.expirationS],
    );
    const { token_name: _n, secret_enc: _s, ...view } = r.rows[0];
    return { ...view, token_code: this.code(r.rows[0]) };
  }

  /** A user's tokens; with `expiringWithinS`, only those expiring within that many seconds. */
  async list(user: NamespaceRow, expiringWithinS?: number): Promise<AppTokenView[]> {
    const r = await this.db.query<Row>(
      `${AppTokens.SELECT} WHERE user_id = $1 AND ($2::bigint IS NULL OR (expiration IS NOT NULL AND expiration <= now() + make_interval(secs => $2::bigint)))
        ORDER BY id`,
      [user.id, expiringWithinS ?? null],
    );
    return r.rows.map(({ token_name: _n, secret_enc: _s, ...view }) => view);
  }

  async get(user: NamespaceRow, uuid: string): Promise<AppTokenView & { token_code: string }> {
    const r = await this.db.query<Row>(`${AppTokens.SELECT} WHERE user_id = $1 AND uuid::text = $2`, [user.id, uuid]);
    if (!r.rows[0]) throw missing('Unknown app token');
    const { token_name: _n, secret_enc: _s, ...view } = r.rows[0];
    return { ...view, token_code: this.code(r.rows[0]) };
  }

  async revoke(user: NamespaceRow, uuid: string): Promise<AppTokenView> {
    const r = await this.db.query<Row>(
      'DELETE FROM app_token WHERE user_id = $1 AND uuid::text = $2 RETURNING uuid, title, last_accessed, created_at AS created, expiration, token_name, secret_enc',
      [user.id, uuid],
    );
    if (!r.rows[0]) throw missing('Unknown app token');
    const { token_name: _n, secret_enc: _s, ...view } = r.rows[0];
    return view;
  }

  /** Every token of the registry (superusers), optionally only those expiring within `expiringWithinS`. */
  async all(expiringWithinS?: number): Promise<(AppTokenView & { username: string })[]> {
    const r = await this.db.query<AppTokenView & { username: string }>(
      `SELECT t.uuid, t.title, t.last_accessed, t.created_at AS created, t.expiration, n.name AS username
         FROM app_token t JOIN namespace n ON n.id = t.user_id
        WHERE $1::bigint IS NULL OR (t.expiration IS NOT NULL AND t.expiration <= now() + make_interval(secs => $1::bigint)) ORDER BY t.id`,
      [expiringWithinS ?? null],
    );
    return r.rows;
  }
}
