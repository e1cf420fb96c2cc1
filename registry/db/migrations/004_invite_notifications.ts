/**
 * Pending team invitations become in-app notifications (kind org_team_invite, as Quay keeps them), so that
 * the notifications API lists, pages and dismisses them like any other. Backfills those already pending.
 */
export default `
INSERT INTO notification (target_id, kind, metadata, created_at)
SELECT i.user_id, 'org_team_invite', jsonb_build_object('code', i.code, 'inviter', v.name, 'org', o.name, 'team', t.name), i.created_at
  FROM team_invite i JOIN team t ON t.id = i.team_id JOIN namespace o ON o.id = t.org_id LEFT JOIN namespace v ON v.id = i.inviter_id
 WHERE i.user_id IS NOT NULL;
`;
