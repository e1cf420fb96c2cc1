/** Builds the tenancy services (orgs, teams, robots, permissions, tokens, logs reading) for the runtime. */
import type { Db } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import { Authenticator } from '../auth/credentials.js';
import { Permissions } from '../auth/permissions.js';
import { SecretBox, secretMaterial } from '../auth/secrets.js';
import { Sessions } from '../auth/sessions.js';
import { LoginBackoff } from '../auth/login_backoff.js';
import { durationSeconds, type Namespaces } from './namespaces.js';
import type { Repositories } from './repositories.js';
import type { UsageLogs } from './logs.js';
import { Organizations } from './orgs.js';
import { Teams } from './teams.js';
import { Robots } from './robots.js';
import { RepositoryPermissions } from './repo_permissions.js';
import { OAuthApps } from './oauth.js';
import { AppTokens } from './app_tokens.js';
import { RepoViews } from './repo_views.js';
import { LogReader } from './log_reader.js';
import { Users } from './users.js';
import { WriteGate, type MirrorRobotLookup } from './write_gate.js';

export interface Tenancy {
  auth: Authenticator;
  permissions: Permissions;
  sessions: Sessions;
  orgs: Organizations;
  teams: Teams;
  robots: Robots;
  repoPermissions: RepositoryPermissions;
  oauth: OAuthApps;
  appTokens: AppTokens;
  repoViews: RepoViews;
  logReader: LogReader;
  users: Users;
  /** Seals opaque page tokens (PAGE_TOKEN_KEY). */
  pages: SecretBox;
  /** Whether a write may happen now: registry state, DISABLE_PUSHES, repository state. */
  writeGate: WriteGate;
}

export interface TenancyOptions {
  /** The robot of a repository's mirror configuration (the mirroring feature supplies it). */
  mirrorRobot?: MirrorRobotLookup;
}

export async function createTenancy(db: Db, config: QuayConfig, namespaces: Namespaces, repositories: Repositories, logs: UsageLogs, opts: TenancyOptions = {}): Promise<Tenancy> {
  const data = new SecretBox(await secretMaterial(db, 'DATABASE_SECRET_KEY', config.DATABASE_SECRET_KEY), 'database');
  const pages = new SecretBox(await secretMaterial(db, 'PAGE_TOKEN_KEY', config.PAGE_TOKEN_KEY), 'page-token');
  const writeGate = new WriteGate(db, config, opts.mirrorRobot);
  const permissions = new Permissions(db, config, writeGate);
  const backoff = new LoginBackoff(db);
  const sessions = new Sessions(db, durationSeconds(config.SESSION_TIMEOUT), await secretMaterial(db, 'SECRET_KEY', config.SECRET_KEY));
  const expiration = config.APP_SPECIFIC_TOKEN_EXPIRATION ? durationSeconds(config.APP_SPECIFIC_TOKEN_EXPIRATION) : null;
  return {
    auth: new Authenticator(db, namespaces, config, data, backoff),
    permissions,
    sessions,
    orgs: new Organizations(db, config, permissions),
    teams: new Teams(db, config.FEATURE_REQUIRE_TEAM_INVITE),
    robots: new Robots(db, data),
    repoPermissions: new RepositoryPermissions(db, repositories),
    oauth: new OAuthApps(db, data),
    appTokens: new AppTokens(db, data, expiration),
    repoViews: new RepoViews(db, permissions),
    logReader: new LogReader(db, () => logs.flush()),
    users: new Users(db, backoff, sessions, namespaces),
    pages,
    writeGate,
  };
}
