import { parseConfig, defaultConfig } from '../../config/index.js';

describe('config.yaml schema', () => {
  test('defaults apply when keys are absent', () => {
    const cfg = defaultConfig();
    expect(cfg.SERVER_HOSTNAME).toBe('localhost:8080');
    expect(cfg.FEATURE_GENERAL_OCI_SUPPORT).toBe(true);
    expect(cfg.TAG_EXPIRATION_OPTIONS).toEqual(['0s', '1d', '1w', '2w', '4w']);
  });

  test('every problem is listed as KEY: reason', () => {
    const r = parseConfig('PREFERRED_URL_SCHEME: ftp\nDB_URI: mysql://x\nSUPER_USERS: admin\n');
    const keys = r.errors.map((e) => e.split(':')[0]);
    expect(keys).toEqual(expect.arrayContaining(['PREFERRED_URL_SCHEME', 'DB_URI', 'SUPER_USERS']));
  });

  test('unknown keys are warnings, Quay keys are not', () => {
    const r = parseConfig('SETUP_COMPLETE: true\nMY_OWN_KEY: 1\n');
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual(['MY_OWN_KEY: unknown key, ignored']);
  });

  test('storage locations are checked per driver', () => {
    const r = parseConfig('DISTRIBUTED_STORAGE_CONFIG:\n  s3: [S3Storage, {s3_access_key: a}]\n  fs: [LocalStorage, {}]\nDISTRIBUTED_STORAGE_PREFERENCE: [nope]\n');
    expect(r.errors).toEqual(
      expect.arrayContaining([
        'DISTRIBUTED_STORAGE_PREFERENCE: location "nope" is not in DISTRIBUTED_STORAGE_CONFIG',
        'DISTRIBUTED_STORAGE_CONFIG.s3: S3Storage needs "s3_bucket"',
        'DISTRIBUTED_STORAGE_CONFIG.fs: LocalStorage needs "storage_path"',
      ]),
    );
  });

  test('invalid YAML is one clear problem', () => {
    expect(parseConfig('a: [').errors[0]).toMatch(/^\(root\): invalid YAML/);
  });

  test('security settings that are not implemented refuse the config when on, with a clear reason', () => {
    const on = parseConfig('FEATURE_IMMUTABLE_TAGS: true\nSUPERUSERS_ORG_CREATION_ONLY: true\n');
    expect(on.errors).toEqual([
      expect.stringMatching(/^FEATURE_IMMUTABLE_TAGS: immutable tags are not implemented/),
      expect.stringMatching(/^SUPERUSERS_ORG_CREATION_ONLY: not read; the key is FEATURE_SUPERUSERS_ORG_CREATION_ONLY/),
    ]);
    const off = parseConfig('FEATURE_IMMUTABLE_TAGS: false\n');
    expect(off.errors).toEqual([]);
    expect(off.warnings).toEqual([]);
  });

  test('reCAPTCHA and invite-only sign-up load as implemented keys; reCAPTCHA needs both keys', () => {
    const r = parseConfig(
      'FEATURE_RECAPTCHA: true\nRECAPTCHA_SITE_KEY: site\nRECAPTCHA_SECRET_KEY: secret\nRECAPTCHA_WHITELISTED_USERS: [bob]\nFEATURE_INVITE_ONLY_USER_CREATION: true\n',
    );
    expect({ errors: r.errors, warnings: r.warnings }).toEqual({ errors: [], warnings: [] });
    expect(r.config.RECAPTCHA_VERIFY_URL).toBe('https://www.google.com/recaptcha/api/siteverify');
    expect(parseConfig('FEATURE_RECAPTCHA: true\nRECAPTCHA_SITE_KEY: site\n').errors).toEqual(['FEATURE_RECAPTCHA: needs RECAPTCHA_SITE_KEY and RECAPTCHA_SECRET_KEY']);
    expect(parseConfig('FEATURE_RECAPTCHA: true\nRECAPTCHA_SITE_KEY: a\nRECAPTCHA_SECRET_KEY: b\nRECAPTCHA_VERIFY_URL: ftp://x\n').errors).toEqual([
      'RECAPTCHA_VERIFY_URL: "ftp://x" is not an http(s) URL',
    ]);
  });

  test('restricted users, account recovery mode, permanent tag deletion and user log access load as implemented keys', () => {
    const r = parseConfig(
      'FEATURE_RESTRICTED_USERS: true\nRESTRICTED_USERS_WHITELIST: [bob]\nACCOUNT_RECOVERY_MODE: true\nPERMANENTLY_DELETE_TAGS: true\nFEATURE_USER_LOG_ACCESS: true\n',
    );
    expect({ errors: r.errors, warnings: r.warnings }).toEqual({ errors: [], warnings: [] });
    expect(r.config).toMatchObject({ FEATURE_RESTRICTED_USERS: true, RESTRICTED_USERS_WHITELIST: ['bob'], ACCOUNT_RECOVERY_MODE: true, PERMANENTLY_DELETE_TAGS: true });
    expect(parseConfig('FEATURE_RESTRICTED_USERS: true\n').config.RESTRICTED_USERS_WHITELIST).toBeNull();
  });

  test('Quay keys this registry does not implement are warned about when set, not silently accepted', () => {
    const r = parseConfig('FEATURE_GITHUB_LOGIN: true\nLOGS_MODEL: elasticsearch\nDATA_MODEL_CACHE_CONFIG: {engine: memcached}\nFEATURE_USER_RENAME: false\n');
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      expect.stringMatching(/^FEATURE_GITHUB_LOGIN: external login providers are not implemented/),
      expect.stringMatching(/^LOGS_MODEL: usage logs are always kept in the database/),
      expect.stringMatching(/^DATA_MODEL_CACHE_CONFIG: /),
    ]);
  });

  test('implemented security keys load: encrypted Basic auth, e-mail domain blacklist, namespace creation on push', () => {
    const r = parseConfig(
      'FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH: true\nFEATURE_BLACKLISTED_EMAILS: true\nBLACKLISTED_EMAIL_DOMAINS: [spam.example]\nCREATE_NAMESPACE_ON_PUSH: true\n',
    );
    expect({ errors: r.errors, warnings: r.warnings }).toEqual({ errors: [], warnings: [] });
    expect(r.config.BLACKLISTED_EMAIL_DOMAINS).toEqual(['spam.example']);
  });
});
