/** Teams of an organization: roles, members (users and the organization's robots), invitations. */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../db/index.js';
import { validNamespaceName } from '../oci/names.js';
import type { NamespaceRow } from './namespaces.js';
import type { TeamRole } from '../auth/permissions.js';
import { assertHasAdmin, invalid, missing, NAME_RULE } from './orgs.js';

/** Quay's data model refuses an unknown (or someone else's) invitation code with this text. */
export const INVALID_INVITE_CODE = 'Invalid confirmation code.';

export interface TeamRow {
  id: number;
  org_id: number;
  name: string;
  role: TeamRole;
  description: string;
}

export interface TeamSummary extends TeamRow {
  member_count: number;
  repo_count: number;
}

/** A member, an invited user (`invited`), or an invited e-mail address (kind `invite`, no name). */
export interface TeamMemberView {
  name: string | null;
  kind: 'user' | 'robot' | 'invite';
  email: string | null;
  invited: boolean;
}

/** Removes the `org_team_invite` notifications of invitations that are gone. */
async function dropInviteNotifications(q: Queryable, codes: string[]): Promise<void> {
  if (codes.length > 0) await q.query(`DELETE FROM notification WHERE kind = 'org_team_invite' AND metadata->>'code' = ANY($1::text[])`, [codes]);
}

export class Teams {
  constructor(
    private readonly db: Db,
    private readonly requireInvite: boolean,
  ) {}

  async byName(org: NamespaceRow, name: string, q: Queryable = this.db): Promise<TeamRow | null> {
    const r = await q.query<TeamRow>('SELECT * FROM team WHERE org_id = $1 AND name = $2', [org.id, name]);
    return r.rows[0] ?? null;
  }

  /** Teams of the organization whose name starts with `prefix` (at most 10). */
  async matching(org: NamespaceRow, prefix: string): Promise<TeamRow[]> {
    const r = await this.db.query<TeamRow>(`SELECT * FROM team WHERE org_id = $1 AND starts_with(name, $2) ORDER BY name LIMIT 10`, [org.id, prefix]);
    return r.rows;
  }

  async get(org: NamespaceRow, name: string): Promise<TeamRow> {
    const team = await this.byName(org, name);
    if (!team) throw missing(`Team ${name} does not exist in organization ${org.name}`);
    return team;
  }

  async list(org: NamespaceRow): Promise<TeamSummary[]> {
    const r = await this.db.query<TeamSummary>(
      `SELECT t.*, (SELECT count(*) FROM team_member m WHERE m.team_id = t.id)::int AS member_count,
              (SELECT count(*) FROM repository_permission p WHERE p.team_id = t.id)::int AS repo_count
         FROM team t WHERE t.org_id = $1 ORDER BY t.name`,
      [org.id],
    );
    return r.rows;
  }

  /**
   * Create the team or change its role and description. Demoting an admin team must not take away the
   * caller's last admin team, and the organization must keep an admin.
   */
  async upsert(
    org: NamespaceRow,
    name: string,
    role: TeamRole,
    description: string | undefined,
    caller: number,
  ): Promise<{ team: TeamRow; created: boolean; previous: TeamRow | null }> {
    if (!validNamespaceName(name)) throw invalid(`Invalid team name "${name}": ${NAME_RULE}`);
    return this.db.tx(async (q) => {
      const existing = (await q.query<TeamRow>('SELECT * FROM team WHERE org_id = $1 AND name = $2 FOR UPDATE', [org.id, name])).rows[0];
      if (!existing) {
        const r = await q.query<TeamRow>('INSERT INTO team (org_id, name, role, description) VALUES ($1, $2, $3, $4) RETURNING *', [org.id, name, role, description ?? '']);
        return { team: r.rows[0], created: true, previous: null };
      }
      if (existing.role === 'admin' && role !== 'admin' && (await this.isOnlyAdminTeamOf(q, org, existing, caller))) {
        throw invalid(`Cannot remove admin from team '${name}' because calling user would no longer have admin on org '${org.name}'`);
      }
      const r = await q.query<TeamRow>('UPDATE team SET role = $2, description = COALESCE($3, description) WHERE id = $1 RETURNING *', [existing.id, role, description ?? null]);
      await assertHasAdmin(q, org);
      return { team: r.rows[0], created: false, previous: existing };
    });
  }

  async delete(org: NamespaceRow, team: TeamRow, caller: number): Promise<void> {
    await this.db.tx(async (q) => {
      if (team.role === 'admin' && (await this.isOnlyAdminTeamOf(q, org, team, caller))) {
        throw invalid(`Deleting team '${team.name}' would remove admin ability for the calling user in organization '${org.name}'`);
      }
      const invites = await q.query<{ code: string }>('SELECT code FROM team_invite WHERE team_id = $1', [team.id]);
      await dropInviteNotifications(
        q,
        invites.rows.map((x) => x.code),
      );
      await q.query('DELETE FROM team WHERE id = $1', [team.id]);
      await assertHasAdmin(q, org);
    });
  }

  /** Is `team` the caller's only admin team in the organization? (Superusers acting on others' orgs have none.) */
  private async isOnlyAdminTeamOf(q: Queryable, org: NamespaceRow, team: TeamRow, caller: number): Promise<boolean> {
    const r = await q.query<{ id: number }>(`SELECT t.id FROM team t JOIN team_member m ON m.team_id = t.id WHERE t.org_id = $1 AND t.role = 'admin' AND m.member_id = $2`, [
      org.id,
      caller,
    ]);
    return r.rows.length === 1 && r.rows[0].id === team.id;
  }

  async members(team: TeamRow, includePending: boolean): Promise<TeamMemberView[]> {
    const r = await this.db.query<TeamMemberView>(
      // Members first, then invitations (users, then e-mail addresses), as Quay lists them.
      `SELECT name, kind, email, invited FROM (
         SELECT 0 AS part, n.name, n.kind, n.email, false AS invited FROM team_member m JOIN namespace n ON n.id = m.member_id WHERE m.team_id = $1
         UNION ALL
         SELECT 1, n.name, n.kind, n.email, true FROM team_invite i JOIN namespace n ON n.id = i.user_id WHERE i.team_id = $1 AND $2
         UNION ALL
         SELECT 2, NULL, 'invite', i.email, true FROM team_invite i WHERE i.team_id = $1 AND i.user_id IS NULL AND $2
       ) x ORDER BY part, name, email`,
      [team.id, includePending],
    );
    return r.rows;
  }

  /**
   * Add a member. Robots of the organization join at once; a user already in another team of the organization
   * too (Quay's rule); any other user gets an invitation that stays pending until they accept it.
   */
  async addMember(org: NamespaceRow, team: TeamRow, member: NamespaceRow, inviter: number | null): Promise<{ invited: boolean }> {
    if (member.kind === 'org') throw invalid('Cannot add an organization to a team');
    if (member.kind === 'robot' && member.robot_owner_id !== org.id) {
      throw invalid('Cannot add the specified robot to this team, as it is not a member of the organization');
    }
    if (member.kind === 'user' && !member.enabled) throw invalid(`User ${member.name} is disabled`);
    return this.db.tx(async (q) => {
      const already = await q.query('SELECT 1 FROM team_member WHERE team_id = $1 AND member_id = $2', [team.id, member.id]);
      if (already.rows.length > 0) return { invited: false };
      let invite = member.kind === 'user' && this.requireInvite;
      if (invite) {
        const inOrg = await q.query('SELECT 1 FROM team t JOIN team_member m ON m.team_id = t.id WHERE t.org_id = $1 AND m.member_id = $2 LIMIT 1', [org.id, member.id]);
        invite = inOrg.rows.length === 0;
      }
      if (!invite) {
        await q.query('INSERT INTO team_member (team_id, member_id) VALUES ($1, $2)', [team.id, member.id]);
        const dropped = await q.query<{ code: string }>('DELETE FROM team_invite WHERE team_id = $1 AND user_id = $2 RETURNING code', [team.id, member.id]);
        await dropInviteNotifications(
          q,
          dropped.rows.map((x) => x.code),
        );
        return { invited: false };
      }
      const created = await q.query<{ code: string; inviter: string | null }>(
        `INSERT INTO team_invite (team_id, user_id, inviter_id, code) VALUES ($1, $2, $3, $4) ON CONFLICT (team_id, user_id) WHERE user_id IS NOT NULL DO NOTHING
         RETURNING code, (SELECT name FROM namespace WHERE id = $3) AS inviter`,
        [team.id, member.id, inviter, `urn:teaminvite:${randomUUID()}`],
      );
      // The invitee learns of it as an in-app notification (Quay's org_team_invite), which carries the code to accept.
      const inv = created.rows[0];
      if (inv) {
        await q.query(`INSERT INTO notification (target_id, kind, metadata) VALUES ($1, 'org_team_invite', $2)`, [
          member.id,
          JSON.stringify({ code: inv.code, inviter: inv.inviter, org: org.name, team: team.name }),
        ]);
      }
      return { invited: true };
    });
  }

  /** Remove a pending invitation if there is one, else the membership. The organization must keep an admin. */
  async removeMember(org: NamespaceRow, team: TeamRow, member: NamespaceRow, caller: number): Promise<void> {
    await this.db.tx(async (q) => {
      const inv = await q.query<{ code: string }>('DELETE FROM team_invite WHERE team_id = $1 AND user_id = $2 RETURNING code', [team.id, member.id]);
      if (inv.rowCount > 0) {
        await dropInviteNotifications(
          q,
          inv.rows.map((x) => x.code),
        );
        return;
      }
      if (member.id === caller && team.role === 'admin' && (await this.isOnlyAdminTeamOf(q, org, team, caller))) {
        throw invalid('User cannot remove themselves from their only admin team.');
      }
      const r = await q.query('DELETE FROM team_member WHERE team_id = $1 AND member_id = $2', [team.id, member.id]);
      if (r.rowCount === 0) throw missing(`${member.name} is not a member of team ${team.name}`);
      await assertHasAdmin(q, org);
    });
  }

  /**
   * Invite an e-mail address to a team (Quay's inviteTeamMemberEmail): returns the invitation's code, which
   * the caller mails to the address. Inviting the same address to the same team again gives the same code.
   */
  async inviteEmail(team: TeamRow, email: string, inviter: number): Promise<string> {
    return this.db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1::int, hashtext(lower($2)))', [team.id % 2147483647, email]);
      const existing = await q.query<{ code: string }>('SELECT code FROM team_invite WHERE team_id = $1 AND lower(email) = lower($2)', [team.id, email]);
      if (existing.rows[0]) return existing.rows[0].code;
      const code = `urn:teaminvite:${randomUUID()}`;
      await q.query('INSERT INTO team_invite (team_id, email, inviter_id, code) VALUES ($1, $2, $3, $4)', [team.id, email, inviter, code]);
      return code;
    });
  }

  /** Withdraw an e-mail invitation; false when there was none. */
  async deleteEmailInvite(team: TeamRow, email: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM team_invite WHERE team_id = $1 AND lower(email) = lower($2)', [team.id, email]);
    return r.rowCount > 0;
  }

  /**
   * Sign-up with an invitation code (inside the sign-up's transaction): when `code` is a pending invitation
   * mailed to `email`, the new user joins its team and the invitation is used up (so one code makes one
   * account, however many sign-ups race). Returns whether it was.
   */
  async useEmailInvite(q: Queryable, code: string, email: string, userId: number): Promise<boolean> {
    const r = await q.query<{ team_id: number }>('DELETE FROM team_invite WHERE code = $1 AND lower(email) = lower($2) RETURNING team_id', [code, email]);
    if (!r.rows[0]) return false;
    await q.query('INSERT INTO team_member (team_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [r.rows[0].team_id, userId]);
    return true;
  }

  /**
   * Accept an invitation: one addressed to this user, or one mailed to an address (whoever holds its code
   * received the mail, as in Quay). The user joins the team.
   */
  async acceptInvite(code: string, user: NamespaceRow): Promise<{ org: string; team: string }> {
    return this.db.tx(async (q) => {
      const r = await q.query<{ team_id: number; team: string; org: string }>(
        `DELETE FROM team_invite i USING team t, namespace o
          WHERE i.code = $1 AND (i.user_id = $2 OR i.user_id IS NULL) AND t.id = i.team_id AND o.id = t.org_id
          RETURNING i.team_id, t.name AS team, o.name AS org`,
        [code, user.id],
      );
      const inv = r.rows[0];
      if (!inv) throw invalid(INVALID_INVITE_CODE);
      await q.query('INSERT INTO team_member (team_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [inv.team_id, user.id]);
      await dropInviteNotifications(q, [code]);
      return { org: inv.org, team: inv.team };
    });
  }

  async declineInvite(code: string, user: NamespaceRow): Promise<void> {
    await this.db.tx(async (q) => {
      const r = await q.query('DELETE FROM team_invite WHERE code = $1 AND user_id = $2', [code, user.id]);
      if (r.rowCount === 0) throw invalid(INVALID_INVITE_CODE);
      await dropInviteNotifications(q, [code]);
    });
  }

  /** The repositories a team holds a role on. */
  async permissions(team: TeamRow): Promise<{ repository: string; visibility: string; role: string }[]> {
    const r = await this.db.query<{ repository: string; visibility: string; role: string }>(
      `SELECT r.name AS repository, r.visibility, p.role FROM repository_permission p JOIN repository r ON r.id = p.repository_id
        WHERE p.team_id = $1 ORDER BY r.name`,
      [team.id],
    );
    return r.rows;
  }

  /** The teams of an organization that a member belongs to. */
  async teamsOf(org: NamespaceRow, memberId: number): Promise<string[]> {
    const r = await this.db.query<{ name: string }>('SELECT t.name FROM team t JOIN team_member m ON m.team_id = t.id WHERE t.org_id = $1 AND m.member_id = $2 ORDER BY t.name', [
      org.id,
      memberId,
    ]);
    return r.rows.map((x) => x.name);
  }
}
