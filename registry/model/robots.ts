/** Robot accounts: `<namespace>+<short>`, a namespace row of kind robot plus its token and description. */
import type { Db } from '../db/index.js';
import { validNamespaceName } from '../oci/names.js';
import { generateSecret } from '../auth/passwords.js';
import type { SecretBox } from '../auth/secrets.js';
import type { NamespaceRow } from './namespaces.js';
import { invalid, missing, NAME_RULE } from './orgs.js';

export const ROBOT_TOKEN_LENGTH = 64;

export interface RobotView {
  name: string;
  created: Date;
  last_accessed: Date | null;
  description: string;
  unstructured_metadata: Record<string, unknown>;
  token: string;
}

interface RobotRow {
  id: number;
  name: string;
  created_at: Date;
  last_accessed: Date | null;
  description: string;
  unstructured_metadata: Record<string, unknown>;
  token_enc: string;
}

export class Robots {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  private view(row: RobotRow): RobotView {
    return {
      name: row.name,
      created: row.created_at,
      last_accessed: row.last_accessed,
      description: row.description,
      unstructured_metadata: row.unstructured_metadata,
      token: this.box.open(row.token_enc) ?? '',
    };
  }

  private static readonly SELECT = `SELECT b.id, b.name, b.created_at, a.last_accessed, a.description, a.unstructured_metadata, a.token_enc
    FROM namespace b JOIN robot_account a ON a.robot_id = b.id`;

  /** Create the robot with a fresh token (one transaction: the namespace row and its account row). */
  async create(owner: NamespaceRow, short: string, input: { description?: string; metadata?: Record<string, unknown> }): Promise<RobotView> {
    if (!validNamespaceName(short)) throw invalid(`Invalid robot account name "${short}": ${NAME_RULE}`);
    const name = `${owner.name}+${short}`;
    const token = generateSecret(ROBOT_TOKEN_LENGTH);
    return this.db.tx(async (q) => {
      const r = await q.query<NamespaceRow>(`INSERT INTO namespace (name, kind, robot_owner_id) VALUES ($1, 'robot', $2) ON CONFLICT (name) DO NOTHING RETURNING *`, [
        name,
        owner.id,
      ]);
      if (!r.rows[0]) throw invalid(`Existing robot with name: ${name}`);
      const a = await q.query<RobotRow>(
        `INSERT INTO robot_account (robot_id, token_enc, description, unstructured_metadata) VALUES ($1, $2, $3, $4)
         RETURNING $5::text AS name, $6::timestamptz AS created_at, last_accessed, description, unstructured_metadata, token_enc`,
        [r.rows[0].id, this.box.seal(token), input.description ?? '', JSON.stringify(input.metadata ?? {}), name, r.rows[0].created_at],
      );
      return this.view(a.rows[0]);
    });
  }

  async get(owner: NamespaceRow, short: string): Promise<RobotView & { id: number }> {
    const r = await this.db.query<RobotRow>(`${Robots.SELECT} WHERE b.name = $1 AND b.robot_owner_id = $2`, [`${owner.name}+${short}`, owner.id]);
    if (!r.rows[0]) throw missing(`Could not find robot with specified username`);
    return { ...this.view(r.rows[0]), id: r.rows[0].id };
  }

  async list(owner: NamespaceRow, limit?: number): Promise<(RobotView & { id: number })[]> {
    const r = await this.db.query<RobotRow>(`${Robots.SELECT} WHERE b.robot_owner_id = $1 ORDER BY b.name LIMIT $2`, [owner.id, limit ?? null]);
    return r.rows.map((row) => ({ ...this.view(row), id: row.id }));
  }

  async update(owner: NamespaceRow, short: string, input: { description?: string; metadata?: Record<string, unknown> }): Promise<RobotView> {
    const robot = await this.get(owner, short);
    await this.db.query('UPDATE robot_account SET description = COALESCE($2, description), unstructured_metadata = COALESCE($3, unstructured_metadata) WHERE robot_id = $1', [
      robot.id,
      input.description ?? null,
      input.metadata ? JSON.stringify(input.metadata) : null,
    ]);
    return this.get(owner, short);
  }

  /** A new token; the old one stops working at once (it is no longer stored anywhere). */
  async regenerate(owner: NamespaceRow, short: string): Promise<RobotView> {
    const robot = await this.get(owner, short);
    await this.db.query('UPDATE robot_account SET token_enc = $2 WHERE robot_id = $1', [robot.id, this.box.seal(generateSecret(ROBOT_TOKEN_LENGTH))]);
    return this.get(owner, short);
  }

  async delete(owner: NamespaceRow, short: string): Promise<void> {
    const robot = await this.get(owner, short);
    await this.db.query('DELETE FROM namespace WHERE id = $1', [robot.id]);
  }

  /** The robot's repository permissions (explicit ones and those of its teams). */
  async permissions(robotId: number): Promise<{ namespace: string; repository: string; visibility: string; role: string }[]> {
    const r = await this.db.query<{ namespace: string; repository: string; visibility: string; role: string }>(
      `SELECT n.name AS namespace, r.name AS repository, r.visibility, p.role
         FROM repository_permission p JOIN repository r ON r.id = p.repository_id JOIN namespace n ON n.id = r.namespace_id
        WHERE p.user_id = $1 ORDER BY r.name`,
      [robotId],
    );
    return r.rows;
  }

  /** Teams each robot of an organization is in, and the repositories it holds permissions on. */
  async memberships(owner: NamespaceRow): Promise<Map<number, { teams: string[]; repositories: string[] }>> {
    const r = await this.db.query<{ id: number; teams: string[] | null; repositories: string[] | null }>(
      `SELECT b.id,
              (SELECT array_agg(t.name ORDER BY t.name) FROM team_member m JOIN team t ON t.id = m.team_id WHERE m.member_id = b.id) AS teams,
              (SELECT array_agg(DISTINCT r.name) FROM repository_permission p JOIN repository r ON r.id = p.repository_id WHERE p.user_id = b.id) AS repositories
         FROM namespace b WHERE b.robot_owner_id = $1`,
      [owner.id],
    );
    return new Map(r.rows.map((x) => [x.id, { teams: x.teams ?? [], repositories: x.repositories ?? [] }]));
  }
}
