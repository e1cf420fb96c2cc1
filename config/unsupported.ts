/**
 * Quay config keys this registry does not implement, each with what happens instead. The loader reports every
 * one that is set to something other than "off" (false, null, empty): an error for settings whose absence
 * would quietly weaken what the operator asked for (the server refuses to start), a warning for the rest.
 * Keys that mean nothing here by design (INERT_QUAY_KEYS) load silently. A key that is implemented belongs in
 * the schema (config/schema.ts) and in neither list.
 */

export interface Unsupported {
  reason: string;
  /** Refuse the config (error) instead of warning. */
  refuse?: boolean;
}

const NOT_BUILT = 'not implemented by this registry; ignored';
const SSO = 'external login providers are not implemented (AUTHENTICATION_TYPE Database or AppToken only); ignored';
const LOGS = 'usage logs are always kept in the database; ignored';
const CACHE = 'the registry keeps its own in-process caches; ignored';
const TOP_LEVEL_BUILD = 'read only inside BUILD_MANAGER (as Quay does); ignored at the top level';
const SCANNER_V2 = 'the v2 scanner API is not implemented (SECURITY_SCANNER_V4_ENDPOINT is); ignored';

export const UNSUPPORTED_KEYS: Readonly<Record<string, Unsupported>> = {
  ALLOW_PULLS_WITHOUT_STRICT_LOGGING: { reason: NOT_BUILT },
  USE_CDN: { reason: NOT_BUILT },
  FEATURE_STORAGE_REPLICATION: { reason: 'storage replication is not implemented (one storage location is used); ignored' },
  SECURITY_SCANNER_ENDPOINT: { reason: SCANNER_V2 },
  SECURITY_SCANNER_NOTIFICATIONS: { reason: SCANNER_V2 },
  REPO_MIRROR_SERVER_HOSTNAME: { reason: NOT_BUILT },
  REPO_MIRROR_ROLLBACK: { reason: NOT_BUILT },
  DATA_MODEL_CACHE_CONFIG: { reason: CACHE },
  PULL_METRICS_REDIS: { reason: 'pull statistics are not implemented; ignored' },
  LOGS_MODEL: { reason: LOGS },
  LOGS_MODEL_CONFIG: { reason: LOGS },
  ACTION_LOG_AUDIT_LOGINS: { reason: 'logins are always logged; ignored' },
  ACTION_LOG_AUDIT_LOGIN_FAILURES: { reason: 'login failures are always logged; ignored' },
  ACTION_LOG_ARCHIVE_LOCATION: { reason: 'log rotation to storage is not implemented; ignored' },
  ACTION_LOG_ARCHIVE_PATH: { reason: 'log rotation to storage is not implemented; ignored' },
  LOG_ARCHIVE_LOCATION: { reason: NOT_BUILT },
  SERVER_HOSTNAME_ALIASES: { reason: NOT_BUILT },
  FEATURE_ACI_CONVERSION: { reason: NOT_BUILT },
  FEATURE_ACTION_LOG_ROTATION: { reason: 'log rotation to storage is not implemented; ignored' },
  FEATURE_GITHUB_LOGIN: { reason: SSO },
  FEATURE_GOOGLE_LOGIN: { reason: SSO },
  GITHUB_LOGIN_CONFIG: { reason: SSO },
  GOOGLE_LOGIN_CONFIG: { reason: SSO },
  LDAP_URI: { reason: SSO },
  LDAP_BASE_DN: { reason: SSO },
  LDAP_ADMIN_DN: { reason: SSO },
  LDAP_ADMIN_PASSWD: { reason: SSO },
  LDAP_EMAIL_ATTR: { reason: SSO },
  LDAP_UID_ATTR: { reason: SSO },
  LDAP_USER_RDN: { reason: SSO },
  FEATURE_PARTIAL_USER_AUTOCOMPLETE: { reason: 'user autocompletion always matches name prefixes; ignored' },
  FEATURE_PERMANENT_SESSIONS: { reason: 'sessions last SESSION_TIMEOUT; ignored' },
  FEATURE_USER_LAST_ACCESSED: { reason: NOT_BUILT },
  FEATURE_USER_METADATA: { reason: NOT_BUILT },
  FEATURE_USER_RENAME: { reason: NOT_BUILT },
  FEATURE_REPOSITORY_ACTION_COUNTER: { reason: NOT_BUILT },
  FEATURE_IMMUTABLE_TAGS: { reason: 'immutable tags are not implemented: tags stay mutable', refuse: true },
  FEATURE_AUTO_PRUNE: { reason: NOT_BUILT },
  FEATURE_IMAGE_PULL_STATS: { reason: 'pull statistics are not implemented; ignored' },
  FEATURE_ASSIGN_OAUTH_TOKEN: { reason: NOT_BUILT },
  FEATURE_UI_V2: { reason: 'the one web UI is always served; ignored' },
  FEATURE_EXPERIMENTAL_HELM_OCI_SUPPORT: { reason: 'Helm charts are OCI artifacts (FEATURE_GENERAL_OCI_SUPPORT); ignored' },
  FEATURE_ORG_MIRROR: { reason: 'organization mirroring is not implemented; ignored' },
  FEATURE_SUPERUSER_CONFIGDUMP: { reason: NOT_BUILT },
  OCI_NAMESPACE_WHITELIST: { reason: 'OCI support is global (FEATURE_GENERAL_OCI_SUPPORT); ignored' },
  V22_NAMESPACE_BLACKLIST: { reason: 'schema 2 manifests are accepted in every namespace; ignored' },
  EXPIRED_APP_SPECIFIC_TOKEN_GC: { reason: 'expired app tokens are refused at once and never listed; ignored' },
  RESET_CHILD_MANIFEST_EXPIRATION: { reason: NOT_BUILT },
  QUOTA_TOTAL_DELAY_SECONDS: { reason: 'quota totals are maintained, never back-filled; ignored' },
  QUOTA_BACKFILL: { reason: 'quota totals are maintained, never back-filled; ignored' },
  AVATAR_KIND: { reason: "avatars are always Quay's default 'local' kind (SHA-256 of the e-mail); ignored" },
  DEFAULT_LABEL_KEY_RESERVED_PREFIXES: { reason: NOT_BUILT },
  FEATURE_EXTENDED_ACTION_LOGGING: { reason: NOT_BUILT },
  SUPERUSERS_ORG_CREATION_ONLY: { reason: 'not read; the key is FEATURE_SUPERUSERS_ORG_CREATION_ONLY', refuse: true },
  INSTANCE_SERVICE_KEY_SERVICE: { reason: NOT_BUILT },
  INSTANCE_SERVICE_KEY_EXPIRATION: { reason: NOT_BUILT },
  INSTANCE_SERVICE_KEY_REFRESH: { reason: NOT_BUILT },
  EXECUTORS: { reason: TOP_LEVEL_BUILD },
  BUILDER_NAMESPACE: { reason: TOP_LEVEL_BUILD },
  SERVICE_ACCOUNT_TOKEN: { reason: TOP_LEVEL_BUILD },
  ORCHESTRATOR: { reason: TOP_LEVEL_BUILD },
  ORCHESTRATOR_PREFIX: { reason: TOP_LEVEL_BUILD },
  JOB_REGISTRATION_TIMEOUT: { reason: TOP_LEVEL_BUILD },
  HEALTH_CHECKER: { reason: NOT_BUILT },
  PROMETHEUS_PUSHGATEWAY_URL: { reason: 'metrics are scraped from /metrics, never pushed; ignored' },
  MAXIMUM_CHUNK_SIZE_MB: { reason: NOT_BUILT },
};

/** Is this value "off" (identical in effect to not implementing the key)? */
export function isOff(value: unknown): boolean {
  if (value === false || value === null || value === undefined || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/** The errors and warnings for the unsupported keys set in `input`. */
export function unsupportedKeyProblems(input: Record<string, unknown>): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const key of Object.keys(input)) {
    const u = Object.hasOwn(UNSUPPORTED_KEYS, key) ? UNSUPPORTED_KEYS[key] : null;
    if (!u || isOff(input[key])) continue;
    (u.refuse ? errors : warnings).push(`${key}: ${u.reason}`);
  }
  return { errors, warnings };
}
