/**
 * The config.yaml schema (Quay's format), shared by the registry and the operator.
 * Every key the project reads is declared here with its default; keys Quay knows but this registry does not
 * implement are reported by the loader from the list in unsupported.ts.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Bool = (def: boolean, description: string) => Type.Boolean({ default: def, description });
const Str = (def: string, description: string) => Type.String({ default: def, description });

/** Duration strings as Quay writes them: `30s`, `10m`, `2h`, `14d`, `2w`. */
export const DURATION_PATTERN = '^[0-9]+[smhdw]$';

export const RedisConfig = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    password: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    ssl: Type.Optional(Type.Boolean()),
    db: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: true },
);

/** One executor of BUILD_MANAGER's EXECUTORS: the shared keys; each executor checks its own (registry/build/executors/). */
export const BuildExecutorConfig = Type.Object(
  {
    EXECUTOR: Type.Union([Type.Literal('popen'), Type.Literal('kubernetesPodman'), Type.Literal('kubernetes'), Type.Literal('ec2')]),
    NAME: Type.Optional(Type.String({ minLength: 1 })),
    SETUP_TIME: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    MINIMUM_RETRY_THRESHOLD: Type.Optional(Type.Integer({ minimum: 0 })),
    NAMESPACE_WHITELIST: Type.Optional(Type.Array(Type.String())),
    STAGED_ROLLOUT: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    DEBUG: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
);

/** BUILD_MANAGER's second element (Quay's ephemeral manager config). */
export const BuildManagerConfig = Type.Object(
  {
    ALLOWED_WORKER_COUNT: Type.Optional(Type.Integer({ minimum: 1 })),
    ORCHESTRATOR: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    ORCHESTRATOR_PREFIX: Type.Optional(Type.String()),
    EXECUTORS: Type.Optional(Type.Array(BuildExecutorConfig)),
    EXECUTOR: Type.Optional(Type.String()),
    EXECUTOR_CONFIG: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    JOB_REGISTRATION_TIMEOUT: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    MACHINE_MAX_TIME: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: true },
);

/** One storage location: `[DriverName, {params}]`. Params are checked per driver in storage/. */
export const StorageLocation = Type.Tuple([
  Type.Union([
    Type.Literal('LocalStorage'),
    Type.Literal('S3Storage'),
    Type.Literal('RadosGWStorage'),
    Type.Literal('RHOCSStorage'),
    Type.Literal('IBMCloudStorage'),
    Type.Literal('STSS3Storage'),
  ]),
  Type.Record(Type.String(), Type.Unknown()),
]);

export const QuayConfigSchema = Type.Object(
  {
    SERVER_HOSTNAME: Str('localhost:8080', 'public host[:port] of the registry; the JWT audience'),
    PREFERRED_URL_SCHEME: Type.Union([Type.Literal('http'), Type.Literal('https')], { default: 'http' }),
    EXTERNAL_TLS_TERMINATION: Bool(false, 'TLS is terminated in front of the registry'),
    SSL_PROTOCOLS: Type.Optional(
      Type.Array(Type.Union([Type.Literal('TLSv1'), Type.Literal('TLSv1.1'), Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')]), {
        description: 'TLS versions the HTTPS listener accepts (a contiguous range; default TLSv1.2 and TLSv1.3)',
      }),
    ),
    SSL_CIPHERS: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'OpenSSL cipher names the HTTPS listener offers' })),
    REGISTRY_TITLE: Str('Quay', 'name shown in the UI'),
    REGISTRY_TITLE_SHORT: Str('Quay', 'short name shown in the UI'),
    ENTERPRISE_LOGO_URL: Type.Optional(Type.String({ description: 'logo shown in the UI (published in GET /config as BRANDING.logo)' })),
    BRANDING: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'UI branding: logo, footer_img, footer_url' })),
    CONTACT_INFO: Type.Optional(Type.Array(Type.String(), { description: 'contact links shown in the UI (mailto:, irc:, tel:, https:)' })),
    DOCUMENTATION_ROOT: Type.Optional(Type.String({ description: 'base URL of the documentation the UI links to' })),
    FOOTER_LINKS: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'UI footer links: TERMS_OF_SERVICE_URL, PRIVACY_POLICY_URL, SECURITY_URL, ABOUT_URL' })),
    DB_URI: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'Postgres URI; absent = embedded PGlite' })),
    DB_CONNECTION_ARGS: Type.Optional(
      Type.Object(
        {
          // peewee's switches: statements here always roll back on error and no connection is shared between requests.
          autorollback: Type.Optional(Type.Literal(true)),
          threadlocals: Type.Optional(Type.Literal(true)),
          max_connections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'connections per registry process (default 20)' })),
          stale_timeout: Type.Optional(Type.Number({ minimum: 1, description: 'seconds an idle connection is kept' })),
          connect_timeout: Type.Optional(Type.Number({ minimum: 1, description: 'seconds to wait for a new connection' })),
          sslmode: Type.Optional(
            Type.Union(
              ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'].map((m) => Type.Literal(m)),
              { description: "libpq's sslmode" },
            ),
          ),
          sslrootcert: Type.Optional(Type.String({ minLength: 1, description: 'CA file the server certificate must chain to' })),
          sslcert: Type.Optional(Type.String({ minLength: 1, description: 'client certificate file' })),
          sslkey: Type.Optional(Type.String({ minLength: 1, description: 'client key file' })),
          application_name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
        },
        { additionalProperties: false, description: "Quay's database connection arguments (libpq keywords and the pool's)" },
      ),
    ),
    DISTRIBUTED_STORAGE_CONFIG: Type.Optional(Type.Record(Type.String(), StorageLocation)),
    DISTRIBUTED_STORAGE_PREFERENCE: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    FEATURE_PROXY_STORAGE: Bool(false, 'blob GETs stream the bytes through the registry instead of redirecting to a pre-signed object storage URL'),
    BLOB_REDIRECT_URL_EXPIRATION_SECONDS: Type.Integer({
      minimum: 10,
      maximum: 604800,
      default: 60,
      description: 'lifetime of the pre-signed object storage URL a blob GET redirects to',
    }),
    DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: Type.Optional(Type.Array(Type.String())),
    BUILDLOGS_REDIS: Type.Optional(RedisConfig),
    USER_EVENTS_REDIS: Type.Optional(RedisConfig),
    SECRET_KEY: Type.Optional(Type.String({ minLength: 1 })),
    DATABASE_SECRET_KEY: Type.Optional(Type.String({ minLength: 1 })),
    AUTHENTICATION_TYPE: Type.Union([Type.Literal('Database'), Type.Literal('AppToken')], { default: 'Database' }),
    SUPER_USERS: Type.Array(Type.String(), { default: [] }),
    GLOBAL_READONLY_SUPER_USERS: Type.Array(Type.String(), { default: [] }),
    LABELED_EXPIRATION_MINIMUM: Type.String({
      pattern: DURATION_PATTERN,
      default: '1h',
      description: 'a tag expiration set through the API is at least this long after the tag was pushed',
    }),
    LABELED_EXPIRATION_MAXIMUM: Type.String({
      pattern: DURATION_PATTERN,
      default: '104w',
      description: 'a tag expiration set through the API is at most this long after the tag was pushed',
    }),
    SEARCH_RESULTS_PER_PAGE: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'repositories per page of GET /api/v1/find/repositories' }),
    SEARCH_MAX_RESULT_PAGE_COUNT: Type.Integer({ minimum: 1, default: 10, description: 'last page GET /api/v1/find/repositories answers (higher pages are clamped to it)' }),
    LIBRARY_NAMESPACE: Str('library', 'namespace used for single-segment repository names'),
    CREATE_PRIVATE_REPO_ON_PUSH: Bool(true, 'repositories created by a push are private'),
    CREATE_NAMESPACE_ON_PUSH: Bool(false, 'a push into an unknown namespace creates an organization owned by the pushing user'),
    FEATURE_BLACKLISTED_EMAILS: Bool(false, 'refuse user e-mail addresses in BLACKLISTED_EMAIL_DOMAINS (sign-up and e-mail changes)'),
    BLACKLISTED_EMAIL_DOMAINS: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'e-mail domains refused with FEATURE_BLACKLISTED_EMAILS (subdomains too)' }),
    FEATURE_INVITE_ONLY_USER_CREATION: Bool(false, 'sign-up needs the code of a team invitation mailed to the e-mail address (FEATURE_MAILING)'),
    FEATURE_RECAPTCHA: Bool(false, 'sign-up and organization creation need a reCAPTCHA answer, checked at RECAPTCHA_VERIFY_URL'),
    RECAPTCHA_SITE_KEY: Type.Optional(Type.String({ minLength: 1, description: 'reCAPTCHA site key the web UI renders the challenge with (published in GET /config)' })),
    RECAPTCHA_SECRET_KEY: Type.Optional(Type.String({ minLength: 1, description: 'reCAPTCHA secret key the registry checks answers with' })),
    RECAPTCHA_WHITELISTED_USERS: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'signed-in users who are never asked for a reCAPTCHA answer' }),
    RECAPTCHA_VERIFY_URL: Str('https://www.google.com/recaptcha/api/siteverify', 'not in Quay: the siteverify endpoint answers are checked at (a reCAPTCHA-compatible service)'),
    FEATURE_RESTRICTED_USERS: Bool(false, 'users not in RESTRICTED_USERS_WHITELIST only read in their own namespace and create no organizations'),
    RESTRICTED_USERS_WHITELIST: Type.Union([Type.Array(Type.String({ minLength: 1 })), Type.Null()], {
      default: null,
      description: 'users exempt from FEATURE_RESTRICTED_USERS (null: every user but the superusers is restricted)',
    }),
    ACCOUNT_RECOVERY_MODE: Bool(false, 'only the web UI and REST API run (sign-in, account recovery); /v2 answers 405 and no background worker runs'),
    PERMANENTLY_DELETE_TAGS: Bool(false, 'POST .../tag/{tag}/expire takes a tag out of the time machine window (no longer restorable)'),
    FEATURE_USER_LOG_ACCESS: Bool(false, "the web UI shows users their own usage logs (the REST API serves them either way, as Quay's)"),
    FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH: Bool(false, "Basic auth on /v2 and /v2/auth takes a user's encrypted password (POST /api/v1/user/clientkey), never the plain one"),
    TAG_EXPIRATION_OPTIONS: Type.Array(Type.String({ pattern: DURATION_PATTERN }), { default: ['0s', '1d', '1w', '2w', '4w'] }),
    DEFAULT_TAG_EXPIRATION: Type.String({ pattern: DURATION_PATTERN, default: '2w' }),
    USER_RECOVERY_TOKEN_LIFETIME: Type.String({ pattern: DURATION_PATTERN, default: '30m', description: 'how long a mailed password-recovery link works' }),
    PUSH_TEMP_TAG_EXPIRATION_SEC: Type.Integer({ minimum: 0, default: 3600 }),
    MAXIMUM_LAYER_SIZE: Type.String({ pattern: '^[0-9]+[KMGT]?$', default: '20G' }),
    V2_PAGINATION_SIZE: Type.Integer({ minimum: 1, default: 100 }),
    V2_AUTH_CHALLENGE: Type.Union([Type.Literal('bearer'), Type.Literal('basic')], {
      default: 'bearer',
      description: 'not in Quay: the 401 challenge of /v2 (bearer = token service; basic = credentials on every request)',
    }),
    DEFAULT_SYSTEM_REJECT_QUOTA_BYTES: Type.Integer({ minimum: 0, default: 0 }),
    ALLOWED_OCI_ARTIFACT_TYPES: Type.Record(Type.String(), Type.Array(Type.String()), {
      // Quay 3.8's default (config.py): SBOMs and attestations in image manifests, Helm charts, source images.
      default: {
        'application/vnd.oci.image.config.v1+json': [
          'application/vnd.dev.cosign.simplesigning.v1+json',
          'application/vnd.dsse.envelope.v1+json',
          'text/spdx',
          'text/spdx+xml',
          'text/spdx+json',
          'application/vnd.syft+json',
          'application/vnd.cyclonedx',
          'application/vnd.cyclonedx+xml',
          'application/vnd.cyclonedx+json',
          'application/vnd.in-toto+json',
        ],
        'application/vnd.cncf.helm.config.v1+json': ['application/tar+gzip', 'application/vnd.cncf.helm.chart.content.v1.tar+gzip'],
        'application/vnd.oci.source.image.config.v1+json': ['application/vnd.oci.image.layer.v1.tar+gzip'],
      },
      description: 'config media type -> layer media types accepted (as Quay, every listed layer type is accepted in every listed config type)',
    }),
    REGISTRY_STATE: Type.Union([Type.Literal('normal'), Type.Literal('readonly')], { default: 'normal' }),
    DISABLE_PUSHES: Bool(false, 'refuse every push'),
    APP_SPECIFIC_TOKEN_EXPIRATION: Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Null()], { default: null }),
    BROWSER_API_CALLS_XHR_ONLY: Bool(true, 'browser GETs on /api/v1 need X-Requested-With'),
    FRESH_LOGIN_TIMEOUT: Type.String({ pattern: DURATION_PATTERN, default: '10m' }),
    SESSION_TIMEOUT: Type.String({ pattern: DURATION_PATTERN, default: '31d' }),
    ROBOTS_DISALLOW: Bool(false, 'forbid creating robot accounts'),
    GARBAGE_COLLECTION_FREQUENCY: Type.Integer({ minimum: 1, default: 30 }),
    BLOBUPLOAD_DELETION_DATE_THRESHOLD: Type.Integer({ minimum: 0, default: 172800, description: 'seconds before an abandoned upload is deleted' }),
    BLOBUPLOAD_CLEANUP_FREQUENCY: Type.Optional(
      Type.Integer({ minimum: 1, description: 'seconds between abandoned-upload cleanups (default: a quarter of the threshold, 10 s to 1 h)' }),
    ),
    TAG_EXPIRY_FREQUENCY: Type.Integer({ minimum: 1, default: 10, description: 'seconds between runs of the worker that records passed tag expiries' }),
    UNAPPROVED_SERVICE_KEY_TTL_SEC: Type.Integer({ minimum: 1, default: 86400, description: 'seconds a submitted service key may wait for approval before it is removed' }),
    EXPIRED_SERVICE_KEY_TTL_SEC: Type.Integer({ minimum: 0, default: 604800, description: 'seconds an expired service key is kept before it is removed' }),
    QUOTA_NOTIFICATION_COOLDOWN_SECONDS: Type.Integer({
      minimum: 0,
      default: 3600,
      description: 'a namespace gets at most one quota warning (and one quota error) notification per this many seconds',
    }),
    LABEL_KEY_RESERVED_PREFIXES: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'label key prefixes refused on the API, in addition to the built-in ones' }),
    FEATURE_USER_INITIALIZE: Bool(false, 'create the first user through POST /api/v1/user/initialize'),
    FEATURE_USER_CREATION: Bool(true, 'self sign-up through POST /api/v1/user/'),
    FEATURE_DIRECT_LOGIN: Bool(true, 'password logins'),
    FEATURE_ANONYMOUS_ACCESS: Bool(true, 'anonymous pulls of public repositories'),
    FEATURE_SUPER_USERS: Bool(true, 'superuser API'),
    FEATURE_SUPERUSERS_FULL_ACCESS: Bool(false, 'superusers may act on every repository'),
    FEATURE_GENERAL_OCI_SUPPORT: Bool(true, 'accept OCI manifests and the allowed artifact types'),
    FEATURE_HELM_OCI_SUPPORT: Bool(true, 'accept Helm charts'),
    FEATURE_REFERRERS_API: Bool(true, 'the OCI referrers API'),
    FEATURE_PUBLIC_CATALOG: Bool(false, 'public repositories appear in /v2/_catalog for everyone'),
    FEATURE_EXTENDED_REPOSITORY_NAMES: Bool(true, 'repository names with several path segments'),
    FEATURE_LIBRARY_SUPPORT: Bool(true, 'implicit library/ namespace'),
    FEATURE_APP_SPECIFIC_TOKENS: Bool(true, 'app-specific tokens'),
    FEATURE_QUOTA_MANAGEMENT: Bool(false, 'track namespace sizes and enforce quotas'),
    FEATURE_EDIT_QUOTA: Bool(true, 'quota API'),
    FEATURE_VERIFY_QUOTA: Bool(true, 'refuse pushes over a Reject limit'),
    FEATURE_GARBAGE_COLLECTION: Bool(true, 'the garbage collection worker'),
    FEATURE_CHANGE_TAG_EXPIRATION: Bool(true, 'namespace admins may change the time machine window'),
    FEATURE_AGGREGATED_LOG_COUNT_RETRIEVAL: Bool(true, 'aggregate log endpoints'),
    FEATURE_MAILING: Bool(false, 'e-mail delivery'),
    FEATURE_REQUIRE_TEAM_INVITE: Bool(true, 'adding a user to a team creates an invitation'),
    FEATURE_BUILD_SUPPORT: Bool(false, 'Dockerfile builds'),
    FEATURE_REPO_MIRROR: Bool(false, 'repository mirroring'),
    FEATURE_PROXY_CACHE: Bool(false, 'proxy cache organizations'),
    PROXY_CACHE_MANIFEST_CHECK_INTERVAL: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'seconds a proxy-cache tag is served without asking the upstream after the upstream confirmed it (0: ask on every pull, as Quay)',
    }),
    PROXY_CACHE_UPSTREAM_MAX_BACKOFF: Type.Integer({
      minimum: 0,
      default: 0,
      description:
        'after an upstream failure (connection, timeout, 5xx, 429) a proxy cache organization does not ask its upstream for 1 s, doubling per failure in a row up to this many seconds (0: ask every time, as Quay)',
    }),
    PROXY_CACHE_STALE_IF_ERROR: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      default: null,
      description:
        'seconds since the upstream last confirmed a proxy-cache tag during which it is served when the upstream fails, expired or not (null: while the tag has not expired, as Quay); expired proxy tags are evicted once past it',
    }),
    FEATURE_SPARSE_INDEX: Bool(false, 'manifest lists may name child manifests the repository does not hold (mirroring with architecture_filter)'),
    REPO_MIRROR_INTERVAL: Type.Integer({ minimum: 1, default: 30, description: 'seconds between passes of the mirror worker over due repositories' }),
    REPO_MIRROR_PRUNE_VANISHED_TAGS: Bool(
      true,
      'a mirror sync deletes local tags no longer upstream or no longer matching (Quay), only after a complete, successful upstream listing; false: never',
    ),
    FEATURE_SECURITY_SCANNER: Bool(false, 'security scanning: Clair v4 when SECURITY_SCANNER_V4_ENDPOINT is set, else the built-in OSV scanner'),
    FEATURE_SECURITY_NOTIFICATIONS: Bool(false, 'vulnerability_found events for advisories that appear after a manifest was indexed'),
    FEATURE_SECURITY_SCANNER_NOTIFY_ON_NEW_INDEX: Bool(true, 'vulnerability_found events for what the first index of a manifest finds'),
    NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX: Type.Union(
      ['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown'].map((s) => Type.Literal(s)),
      { default: 'High' },
    ),
    SECURITY_SCANNER_INDEXING_INTERVAL: Type.Integer({ minimum: 1, default: 30, description: 'seconds between indexing passes' }),
    SECURITY_SCANNER_V4_INDEXING: Bool(true, 'index manifests (the security API keeps answering when off)'),
    SECURITY_SCANNER_V4_REINDEX_THRESHOLD: Type.Integer({
      minimum: 0,
      default: 300,
      description: 'seconds before a failed manifest is retried or one indexed under another indexer state is re-indexed',
    }),
    SECURITY_SCANNER_MAX_SCAN_RETRIES: Type.Integer({ minimum: 0, default: 5, description: 'failed index attempts per indexer state before SCAN_RETRIES_EXHAUSTED' }),
    SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE: Type.Optional(
      Type.String({ pattern: '^[0-9]+[BKMGT]?$', description: 'layers above this compressed size are not indexed (manifest_layer_too_large)' }),
    ),
    SECURITY_SCANNER_V4_MANIFEST_CLEANUP: Bool(true, 'delete Clair index reports of garbage-collected manifests'),
    SECURITY_SCANNER_OSV_DB_PATH: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'not in Quay: OSV database (directory of JSON files and/or zips, or one zip) for the built-in scanner; re-imported when it changes',
      }),
    ),
    SECURITY_SCANNER_MAX_UNCOMPRESSED_LAYER_SIZE: Type.String({
      pattern: '^[0-9]+[BKMGT]?$',
      default: '16G',
      description: 'not in Quay: the built-in scanner fails a layer that decompresses beyond this (gzip bombs)',
    }),
    FEATURE_TEAM_SYNCING: Bool(false, 'the team syncing endpoints (with Database authentication they answer that no directory backs groups)'),
    FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP: Bool(false, 'organization admins who are not superusers may set up team syncing'),
    DISKSPACE_HEALTH_THRESHOLD: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.01,
      description: 'free fraction of the data and temp volumes below which /health/instance fails',
    }),
    DISKSPACE_HEALTH_WARNING_THRESHOLD: Type.Number({ minimum: 0, maximum: 1, default: 0.1, description: 'free fraction below which /health/warning fails' }),
    BUILD_MANAGER: Type.Optional(
      Type.Tuple([Type.Union([Type.Literal('ephemeral'), Type.Literal('external')]), BuildManagerConfig], {
        description: '["ephemeral", {manager config}] runs builds (registry/build/); "external": builds are handled by another process',
      }),
    ),
    BUILDMAN_HOSTNAME: Type.Optional(
      Type.String({ minLength: 1, description: 'host[:port] of the build manager gRPC API the workers call, and the audience of their JWTs (default SERVER_HOSTNAME)' }),
    ),
    DEFAULT_NAMESPACE_MAXIMUM_BUILD_COUNT: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      default: null,
      description: 'queued-or-running builds a namespace may have when its own maximum_queued_builds_count is unset (null: no limit)',
    }),
    SECURITY_SCANNER_V4_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'Clair v4 base URL; absent = the built-in scanner' })),
    SECURITY_SCANNER_V4_PSK: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/=_-]+$', description: 'base64 key of the HS256 JWTs between Quay and Clair' })),
    PAGE_TOKEN_KEY: Type.Optional(Type.String({ minLength: 1, description: 'key sealing opaque next_page tokens; generated and kept in the database when absent' })),
    DEBUGGING: Bool(false, 'development mode: browser GETs on /api/v1 need no X-Requested-With'),
    FEATURE_SUPERUSERS_ORG_CREATION_ONLY: Bool(false, 'only superusers may create organizations'),
    SSRF_ALLOWED_HOSTS: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'host names or CIDRs that outbound calls (webhooks, callbacks, upstream registries, Clair) may reach although private, loopback or link-local',
    }),
    WEBHOOK_HOSTNAME_BLACKLIST: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'host names refused for notification deliveries and log-export callbacks' }),
    MAIL_SERVER: Type.Optional(Type.String({ description: 'SMTP server host name (e-mail needs FEATURE_MAILING too)' })),
    MAIL_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 587, description: 'SMTP port' }),
    MAIL_USE_TLS: Bool(true, 'STARTTLS on the SMTP connection'),
    MAIL_USE_AUTH: Bool(false, 'log in to the SMTP server with MAIL_USERNAME / MAIL_PASSWORD'),
    MAIL_USERNAME: Type.Optional(Type.String()),
    MAIL_PASSWORD: Type.Optional(Type.String()),
    MAIL_DEFAULT_SENDER: Str('admin@example.com', 'From: address of the e-mails the registry sends'),
    NOTIFICATION_RETRY_SECONDS: Type.Integer({
      minimum: 1,
      default: 30,
      description: 'not in Quay (fixed at 30 there): seconds before a failed notification delivery is tried again',
    }),
    FEATURE_QUOTA_NOTIFICATIONS: Bool(false, 'quota_warning / quota_error events for namespace notifications'),
    FEATURE_LOG_EXPORT: Bool(true, 'usage-log export (POST .../exportlogs) and its worker'),
    EXPORT_ACTION_LOGS_STORAGE_PATH: Str('exportedactionlogs', 'folder of the blob store where exported usage logs are written'),
    EXPORT_ACTION_LOGS_SECONDS: Type.Integer({ minimum: 1, default: 3600, description: 'seconds the download link of a usage-log export stays valid' }),
    EXPORT_ACTION_LOGS_MAXIMUM_SECONDS: Type.Integer({ minimum: 1, default: 7200, description: 'seconds one usage-log export may run before it is reported as timedout' }),
    EXPORT_ACTION_LOGS_WORKER_POLL_PERIOD: Type.Number({
      exclusiveMinimum: 0,
      default: 60,
      description: 'seconds between polls of the export queue when no wake-up arrives (new exports start at once)',
    }),
    NOTIFICATION_TASK_RUN_MINIMUM_INTERVAL_MINUTES: Type.Number({
      minimum: 0,
      default: 300,
      description: 'minutes between two scans of one repo_image_expiry notification for expiring tags',
    }),
    NOTIFICATION_SEND_TIMEOUT: Type.Number({ exclusiveMinimum: 0, default: 10, description: 'seconds an outbound notification call may take to answer' }),
    SUCCESSIVE_TRIGGER_FAILURE_DISABLE_THRESHOLD: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      default: 100,
      description: 'consecutive builds of a trigger ending in error after which the trigger is disabled (null: never)',
    }),
    SUCCESSIVE_TRIGGER_INTERNAL_ERROR_DISABLE_THRESHOLD: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      default: 5,
      description: 'consecutive builds of a trigger ending in internalerror after which the trigger is disabled (null: never)',
    }),
    FEATURE_READER_BUILD_LOGS: Bool(false, 'users with read access may see build logs (else write access is needed)'),
    FEATURE_GITHUB_BUILD: Bool(false, 'GitHub build triggers set up through GitHub (OAuth attach, deploy key and hook created on activate)'),
    FEATURE_GITLAB_BUILD: Bool(false, 'GitLab build triggers set up through GitLab (OAuth attach, deploy key and hook created on activate)'),
    FEATURE_BITBUCKET_BUILD: Bool(false, 'Bitbucket build triggers set up through Bitbucket (OAuth attach, deploy key and hook created on activate)'),
    GITHUB_TRIGGER_CONFIG: Type.Optional(
      Type.Object(
        {
          CLIENT_ID: Type.String({ description: 'OAuth app client id' }),
          CLIENT_SECRET: Type.String({ description: 'OAuth app client secret' }),
          GITHUB_ENDPOINT: Type.String({ default: 'https://github.com/', description: 'GitHub (Enterprise) web address: OAuth and repository pages' }),
          API_ENDPOINT: Type.Optional(Type.String({ description: 'REST API address (default https://api.github.com/ for github.com, else GITHUB_ENDPOINT/api/v3/)' })),
        },
        { additionalProperties: true, description: 'the GitHub OAuth app of build triggers' },
      ),
    ),
    GITLAB_TRIGGER_CONFIG: Type.Optional(
      Type.Object(
        {
          CLIENT_ID: Type.String({ description: 'OAuth application id' }),
          CLIENT_SECRET: Type.String({ description: 'OAuth application secret' }),
          GITLAB_ENDPOINT: Type.String({ default: 'https://gitlab.com/', description: 'GitLab address: OAuth, API (/api/v4) and project pages' }),
        },
        { additionalProperties: true, description: 'the GitLab OAuth application of build triggers' },
      ),
    ),
    BITBUCKET_TRIGGER_CONFIG: Type.Optional(
      Type.Object(
        {
          CONSUMER_KEY: Type.String({ description: 'OAuth consumer key' }),
          CONSUMER_SECRET: Type.String({ description: 'OAuth consumer secret' }),
          BITBUCKET_ENDPOINT: Type.Optional(Type.String({ description: 'not in Quay: the Bitbucket web address (OAuth and repository pages; default https://bitbucket.org/)' })),
          API_ENDPOINT: Type.Optional(Type.String({ description: 'not in Quay: the Bitbucket REST API 2.0 address (default https://api.bitbucket.org/2.0/)' })),
        },
        { additionalProperties: true, description: 'the Bitbucket OAuth consumer of build triggers' },
      ),
    ),
    USERFILES_MAX_SIZE: Type.String({
      pattern: '^[0-9]+[KMGT]?$',
      default: '1G',
      description: 'not in Quay: the largest build pack PUT to a /api/v1/filedrop/ upload URL (413 beyond)',
    }),
  },
  { additionalProperties: true },
);

export type QuayConfig = Static<typeof QuayConfigSchema>;

/**
 * Quay keys that load silently although nothing reads them: markers of Quay's config tool and test harness,
 * and three keys the operator's base config writes as Quay's operator does (team syncing and the v4 scanner's
 * namespace list are not implemented; mirror TLS is decided per mirror configuration). Every other Quay key
 * this registry does not implement is in config/unsupported.ts and reported when set.
 */
export const QUAY_KNOWN_KEYS: readonly string[] = ['SETUP_COMPLETE', 'TESTING', 'TEAM_RESYNC_STALE_TIME', 'SECURITY_SCANNER_V4_NAMESPACE_WHITELIST', 'REPO_MIRROR_TLS_VERIFY'];

/** The schema of one key, or undefined when the key is not declared. */
export function keySchema(key: string): TSchema | undefined {
  return (QuayConfigSchema.properties as Record<string, TSchema>)[key];
}
