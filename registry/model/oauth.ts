/** OAuth applications (owned by an organization, or by a user for /user/initialize) and their access tokens. */
import type { Db } from '../db/index.js';
import { generateSecret } from '../auth/passwords.js';
import { hashToken, type SecretBox } from '../auth/secrets.js';
import { OAUTH_NAME_LENGTH } from '../auth/credentials.js';
import type { NamespaceRow } from './namespaces.js';
import { missing } from './orgs.js';

export interface AppRow {
  id: number;
  client_id: string;
  client_secret_enc: string;
  namespace_id: number;
  name: string;
  description: string;
  redirect_uri: string;
  application_uri: string;
  avatar_email: string | null;
}

export interface AppView {
  name: string;
  description: string;
  application_uri: string;
  client_id: string;
  client_secret: string;
  redirect_uri: string;
  avatar_email: string | null;
}

export interface TokenView {
  uuid: string;
  name: string;
  scope: string;
  expires_at: Date | null;
  created: Date;
  created_by: string | null;
  last_accessed: Date | null;
}

/** An access token as the user who holds it sees it, with the application that issued it. */
export interface AuthorizationRow {
  uuid: string;
  scope: string;
  application: string;
  application_uri: string;
  avatar_email: string | null;
  namespace: string;
  namespace_email: string | null;
}

/** Ten years, Quay's default and longest token lifetime. */
export const MAX_TOKEN_EXPIRATION_S = 10 * 365 * 86400;

export interface AppInput {
  name: string;
  description?: string;
  redirect_uri?: string;
  application_uri?: string;
  avatar_email?: string | null;
}

export class OAuthApps {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  view(app: AppRow): AppView {
    return {
      name: app.name,
      description: app.description,
      application_uri: app.application_uri,
      client_id: app.client_id,
      client_secret: this.box.open(app.client_secret_enc) ?? '',
      redirect_uri: app.redirect_uri,
      avatar_email: app.avatar_email,
    };
  }

  async create(owner: NamespaceRow, input: AppInput, clientId = generateSecret(20)): Promise<AppRow> {
    const r = await this.db.query<AppRow>(
      `INSERT INTO oauth_application (client_id, client_secret_enc, namespace_id, name, description, redirect_uri, application_uri, avatar_email)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [
        clientId,
        this.box.seal(generateSecret(40)),
        owner.id,
        input.name,
        input.description ?? '',
        input.redirect_uri ?? '',
        input.application_uri ?? '',
        input.avatar_email ?? null,
      ],
    );
    return r.rows[0];
  }

  async list(owner: NamespaceRow): Promise<AppRow[]> {
    return (await this.db.query<AppRow>('SELECT * FROM oauth_application WHERE namespace_id = $1 ORDER BY id', [owner.id])).rows;
  }

  async get(owner: NamespaceRow, clientId: string): Promise<AppRow> {
    const r = await this.db.query<AppRow>('SELECT * FROM oauth_application WHERE namespace_id = $1 AND client_id = $2', [owner.id, clientId]);
    if (!r.rows[0]) throw missing('Unknown application');
    return r.rows[0];
  }

  async byClientId(clientId: string): Promise<(AppRow & { namespace: string }) | null> {
    const r = await this.db.query<AppRow & { namespace: string }>(
      'SELECT a.*, n.name AS namespace FROM oauth_application a JOIN namespace n ON n.id = a.namespace_id WHERE a.client_id = $1',
      [clientId],
    );
    return r.rows[0] ?? null;
  }

  async update(app: AppRow, input: AppInput): Promise<AppRow> {
    const r = await this.db.query<AppRow>(
      `UPDATE oauth_application SET name = $2, description = COALESCE($3, description), redirect_uri = COALESCE($4, redirect_uri),
              application_uri = COALESCE($5, application_uri), avatar_email = COALESCE($6, avatar_email) WHERE id = $1 RETURNING *`,
      [app.id, input.name, input.description ?? null, input.redirect_uri ?? null, input.application_uri ?? null, input.avatar_email ?? null],
    );
    return r.rows[0];
  }

  async resetSecret(app: AppRow): Promise<AppRow> {
    const r = await this.db.query<AppRow>('UPDATE oauth_application SET client_secret_enc = $2 WHERE id = $1 RETURNING *', [app.id, this.box.seal(generateSecret(40))]);
    return r.rows[0];
  }

  /** Deleting an application revokes every token it issued. */
  async delete(app: AppRow): Promise<void> {
    await this.db.query('DELETE FROM oauth_application WHERE id = $1', [app.id]);
  }

  /** Issue a token for `user` with `scope`; the secret is returned once and only its hash is kept. */
  async createToken(
    app: AppRow,
    user: NamespaceRow,
    input: { name: string; scope: string; expirationS?: number | null; createdBy?: number },
  ): Promise<{ token: string; view: TokenView }> {
    const token = generateSecret(OAUTH_NAME_LENGTH * 2);
    const r = await this.db.query<{ uuid: string }>(
      `INSERT INTO oauth_access_token (application_id, user_id, created_by_id, name, scope, token_name, token_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::bigint IS NULL THEN NULL ELSE now() + make_interval(secs => $8::bigint) END)
       RETURNING uuid`,
      [
        app.id,
        user.id,
        input.createdBy ?? user.id,
        input.name,
        input.scope,
        token.slice(0, OAUTH_NAME_LENGTH),
        hashToken(token.slice(OAUTH_NAME_LENGTH)),
        input.expirationS ?? null,
      ],
    );
    const view = (await this.tokens(app)).find((t) => t.uuid === r.rows[0].uuid)!;
    return { token, view };
  }

  async tokens(app: AppRow): Promise<TokenView[]> {
    const r = await this.db.query<TokenView>(
      `SELECT t.uuid, t.name, t.scope, t.expires_at, t.created_at AS created, c.name AS created_by, t.last_accessed
         FROM oauth_access_token t LEFT JOIN namespace c ON c.id = t.created_by_id WHERE t.application_id = $1 ORDER BY t.id`,
      [app.id],
    );
    return r.rows;
  }

  async deleteToken(app: AppRow, uuid: string): Promise<void> {
    const r = await this.db.query('DELETE FROM oauth_access_token WHERE application_id = $1 AND uuid::text = $2', [app.id, uuid]);
    if (r.rowCount === 0) throw missing('Unknown token');
  }

  /** Tokens a user holds (`/user/authorizations`), or the one with `uuid`. */
  async authorizationsOf(user: NamespaceRow, uuid?: string): Promise<AuthorizationRow[]> {
    const r = await this.db.query<AuthorizationRow>(
      `SELECT t.uuid, t.scope, a.name AS application, a.application_uri, a.avatar_email, n.name AS namespace, n.email AS namespace_email
         FROM oauth_access_token t JOIN oauth_application a ON a.id = t.application_id JOIN namespace n ON n.id = a.namespace_id
        WHERE t.user_id = $1 AND ($2::text IS NULL OR t.uuid::text = $2) ORDER BY t.id`,
      [user.id, uuid ?? null],
    );
    return r.rows;
  }

  /** Whether the user held the token. */
  async revokeAuthorization(user: NamespaceRow, uuid: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM oauth_access_token WHERE user_id = $1 AND uuid::text = $2', [user.id, uuid]);
    return (r.rowCount ?? 0) > 0;
  }
}
