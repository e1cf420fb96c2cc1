/** Human text for usage-log kinds, in Quay's wording where it has one. */
type Meta = Record<string, unknown>;
const s = (v: unknown) => (v === undefined || v === null ? '' : String(v));
const repo = (m: Meta) => `${s(m.namespace)}/${s(m.repo)}`;

const DESCRIBE: Record<string, (m: Meta) => string> = {
  create_repo: (m) => `Create Repository ${repo(m)}`,
  delete_repo: (m) => `Delete repository ${repo(m)}`,
  push_repo: (m) => `Push of ${m.tag ? `tag ${s(m.tag)}` : 'manifest'} to repository ${repo(m)}`,
  pull_repo: (m) => `Pull of ${m.tag ? `tag ${s(m.tag)}` : s(m.manifest_digest) || 'repository'} from repository ${repo(m)}`,
  create_tag: (m) => `Tag ${s(m.tag)} created in repository ${repo(m)} on ${s(m.manifest_digest)}`,
  move_tag: (m) => `Tag ${s(m.tag)} moved to ${s(m.manifest_digest)} in repository ${repo(m)}`,
  delete_tag: (m) => `Tag ${s(m.tag)} deleted in repository ${repo(m)}`,
  revert_tag: (m) => `Tag ${s(m.tag)} restored to ${s(m.manifest_digest)} in repository ${repo(m)}`,
  change_tag_expiration: (m) => (m.expiration_date ? `Tag ${s(m.tag)} set to expire on ${s(m.expiration_date)}` : `Tag ${s(m.tag)} set to never expire`),
  manifest_label_add: (m) => `Label ${s(m.key)} added to manifest ${s(m.manifest_digest)}`,
  manifest_label_delete: (m) => `Label ${s(m.key)} deleted from manifest ${s(m.manifest_digest)}`,
  change_repo_visibility: (m) => `Change visibility for repository ${repo(m)} to ${s(m.visibility)}`,
  set_repo_description: (m) => `Change description for repository ${repo(m)}`,
  change_repo_permission: (m) => `Change permission for ${s(m.username ?? m.team)} in repository ${repo(m)} to ${s(m.role)}`,
  delete_repo_permission: (m) => `Remove permission for ${s(m.username ?? m.team)} from repository ${repo(m)}`,
  org_create: (m) => `Organization ${s(m.namespace)} created`,
  org_create_team: (m) => `Create team ${s(m.team)}`,
  org_delete_team: (m) => `Delete team ${s(m.team)}`,
  org_add_team_member: (m) => `Add member ${s(m.member)} to team ${s(m.team)}`,
  org_remove_team_member: (m) => `Remove member ${s(m.member)} from team ${s(m.team)}`,
  org_set_team_role: (m) => `Change role of team ${s(m.team)} to ${s(m.role)}`,
  create_robot: (m) => `Create Robot Account ${s(m.robot)}`,
  delete_robot: (m) => `Delete Robot Account ${s(m.robot)}`,
  create_prototype_permission: (m) => `Create default permission: ${s(m.role)} for ${s(m.delegate?.toString?.() ?? '')}`,
  delete_prototype_permission: () => 'Delete default permission',
  create_application: (m) => `Create application ${s(m.application_name)}`,
  delete_application: (m) => `Delete application ${s(m.application_name)}`,
  user_create: (m) => `User ${s(m.username)} created`,
  account_change_password: () => 'Change password',
  user_change_email: (m) => `Change email to ${s(m.email)}`,
  create_app_specific_token: (m) => `Created external application token ${s(m.app_specific_token_title)}`,
  revoke_app_specific_token: (m) => `Revoked external application token ${s(m.app_specific_token_title)}`,
};

/** Title Case of a kind, for the chart legend and unknown kinds ("push_repo" → "Push Repo"). */
export function kindTitle(kind: string): string {
  return kind.replace(/_/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
}

export function describeLog(kind: string, metadata: Meta): string {
  const f = DESCRIBE[kind];
  return f ? f(metadata ?? {}) : kindTitle(kind);
}
