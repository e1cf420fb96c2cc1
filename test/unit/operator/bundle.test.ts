import yaml from 'js-yaml';
import { validateConfig } from '../../../config/index.js';
import { baseConfig, renderConfig, resolveManagedKeys } from '../../../operator/bundle.js';
import { componentMap, fillComponents } from '../../../operator/spec.js';
import { context, OPENSHIFT } from './fixtures.js';
import type { KubeObject } from '../../../operator/types.js';

const decode = (o: KubeObject) => Object.fromEntries(Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));

describe('generated secrets', () => {
  const components = componentMap(fillComponents([], OPENSHIFT, {}).components);

  test('generated once, then read back; never rotated', () => {
    let calls = 0;
    const random = (n: number) => `${++calls}`.padEnd(n, 'z');
    const first = resolveManagedKeys('reg', {}, {}, components, random);
    expect(first.SECRET_KEY).toHaveLength(80);
    expect(first.DB_URI).toMatch(/^postgresql:\/\/reg-quay-database:.+@reg-quay-database:5432\/reg-quay-database$/);
    const persisted = Object.fromEntries(Object.entries(first).map(([k, v]) => [k, String(v)]));
    const again = resolveManagedKeys('reg', persisted, {}, components, () => 'DIFFERENT');
    expect(again).toEqual(first);
  });

  test('user values win and are adopted', () => {
    const keys = resolveManagedKeys('reg', { SECRET_KEY: 'old' }, { SECRET_KEY: 'mine', DB_URI: 'postgresql://u:p@db/q' }, components, () => 'gen');
    expect(keys.SECRET_KEY).toBe('mine');
    expect(keys.DB_URI).toBe('postgresql://u:p@db/q');
  });
});

describe('rendered config bundle', () => {
  test('merges user config, base keys and managed component keys, and validates against the shared schema', () => {
    const ctx = context({ platform: OPENSHIFT, userConfig: { SERVER_HOSTNAME: 'quay.example.test', SUPER_USERS: ['admin'], FEATURE_MAILING: true } });
    ctx.objectBucket = { host: 's3.openshift-storage.svc.cluster.local', port: 443, secure: true, bucket: 'b1', accessKey: 'a', secretKey: 's' };
    const r = renderConfig(ctx);
    const cfg = yaml.load(decode(r.object)['config.yaml']) as Record<string, any>;
    expect(cfg.SUPER_USERS).toEqual(['admin']);
    expect(cfg.FEATURE_MAILING).toBe(true); // base keys never override the user
    expect(cfg.SETUP_COMPLETE).toBe(true);
    expect(cfg.DB_URI).toBe(ctx.keys.DB_URI);
    expect(cfg.BUILDLOGS_REDIS).toEqual({ host: 'reg-quay-redis', port: 6379 });
    expect(cfg.DISTRIBUTED_STORAGE_CONFIG.local_us[0]).toBe('RHOCSStorage');
    expect(cfg.SECURITY_SCANNER_V4_ENDPOINT).toBe('http://reg-clair-app.ns1.svc.cluster.local');
    expect(cfg.PREFERRED_URL_SCHEME).toBe('https');
    const v = validateConfig(cfg);
    expect(v.errors).toEqual([]);
    expect(v.warnings).toEqual([]);
  });

  test('keys are sorted and the name depends only on content', () => {
    const a = renderConfig(context({ userConfig: { SERVER_HOSTNAME: 'h.example', B: 1, A: 2 } }));
    const b = renderConfig(context({ userConfig: { A: 2, SERVER_HOSTNAME: 'h.example', B: 1 } }));
    expect(a.name).toBe(b.name);
    expect(a.name).toMatch(/^reg-quay-config-secret-[0-9a-f]{10}$/);
    const text = decode(a.object)['config.yaml'];
    const keys = Object.keys(yaml.load(text) as object);
    expect(keys).toEqual([...keys].sort());
    const c = renderConfig(context({ userConfig: { SERVER_HOSTNAME: 'h.example', B: 1, A: 3 } }));
    expect(c.name).not.toBe(a.name);
  });

  test('bundle extras are carried, certificates and CAs are not', () => {
    const r = renderConfig(context({ bundle: { 'database.pem': 'PEM', 'ssl.cert': 'c', 'ssl.key': 'k', extra_ca_cert_x: 'ca', 'config.yaml': '' } }));
    expect(Object.keys(decode(r.object)).sort()).toEqual(['config.yaml', 'database.pem']);
  });

  test('base config keeps DEFAULT_TAG_EXPIRATION among TAG_EXPIRATION_OPTIONS', () => {
    expect(baseConfig({ DEFAULT_TAG_EXPIRATION: '4w' }).TAG_EXPIRATION_OPTIONS).toEqual(['4w']);
    expect(baseConfig({ TAG_EXPIRATION_OPTIONS: ['1d', '1w'] }).DEFAULT_TAG_EXPIRATION).toBe('1d');
    expect(validateConfig(baseConfig()).errors).toEqual([]);
  });
});
