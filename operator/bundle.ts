/**
 * The config bundle: the user's Secret merged with generated values into the Secret the registry reads,
 * and the generated secrets that must survive every reconcile.
 */
import { randomInt } from 'node:crypto';
import yaml from 'js-yaml';
import { COMPONENT_KINDS, type Component, type ComponentKind, type KubeObject } from './types.js';
import { COMPONENTS } from './components/index.js';
import { contentHash, isManaged, secret } from './components/common.js';
import type { ManagedKeys, RenderContext } from './components/common.js';
import { generatedDbUri } from './components/postgres.js';
import { fillBuilderConfig } from './components/builders.js';

export const CONFIG_KEY = 'config.yaml';
export const managedKeysName = (name: string) => `${name}-quay-registry-managed-secret-keys`;
export const configSecretPrefix = (name: string) => `${name}-quay-config-secret-`;

/** Bundle keys that are consumed by the operator and not copied into the rendered config Secret. */
function consumedKey(k: string): boolean {
  return (
    k === CONFIG_KEY ||
    k === 'ssl.cert' ||
    k === 'ssl.key' ||
    k === 'clair-config.yaml' ||
    k.startsWith('clair-ssl.') ||
    k.startsWith('extra_ca_cert_') ||
    k.endsWith('.config.yaml')
  );
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-';
export function randomString(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

/** The config a new registry starts from (also the content of a bundle the operator creates). */
export function baseConfig(user: Record<string, unknown> = {}): Record<string, unknown> {
  const options = Array.isArray(user.TAG_EXPIRATION_OPTIONS) ? (user.TAG_EXPIRATION_OPTIONS as string[]) : undefined;
  const defaultExpiration = typeof user.DEFAULT_TAG_EXPIRATION === 'string' ? user.DEFAULT_TAG_EXPIRATION : (options?.[0] ?? '2w');
  return {
    SETUP_COMPLETE: true,
    FEATURE_MAILING: false,
    REGISTRY_TITLE: 'Quay',
    REGISTRY_TITLE_SHORT: 'Quay',
    AUTHENTICATION_TYPE: 'Database',
    ENTERPRISE_LOGO_URL: '/static/img/quay-horizontal-color.svg',
    // Options always include the default, so a user who sets only one of the two gets a valid pair.
    DEFAULT_TAG_EXPIRATION: defaultExpiration,
    TAG_EXPIRATION_OPTIONS: options ?? [defaultExpiration],
    ALLOW_PULLS_WITHOUT_STRICT_LOGGING: false,
    TEAM_RESYNC_STALE_TIME: '60m',
    FEATURE_DIRECT_LOGIN: true,
    FEATURE_BUILD_SUPPORT: false,
    TESTING: false,
  };
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * The generated secrets: the user's value wins (and is adopted), else the persisted one, else a new
 * random one. Never rotated by a reconcile. `persisted` is the data of `<n>-quay-registry-managed-secret-keys`.
 */
export function resolveManagedKeys(
  name: string,
  persisted: Record<string, string>,
  userConfig: Record<string, unknown>,
  components: Record<ComponentKind, Component>,
  random: (length: number) => string = randomString,
): ManagedKeys {
  const pick = (key: string, generate: () => string) => (nonEmpty(userConfig[key]) ? (userConfig[key] as string) : nonEmpty(persisted[key]) ? persisted[key] : generate());
  const keys: ManagedKeys = {
    SECRET_KEY: pick('SECRET_KEY', () => random(80)),
    DATABASE_SECRET_KEY: pick('DATABASE_SECRET_KEY', () => random(80)),
    DB_ROOT_PW: persisted.DB_ROOT_PW || random(32),
    SECURITY_SCANNER_V4_PSK: persisted.SECURITY_SCANNER_V4_PSK || Buffer.from(random(32)).toString('base64'),
    CLAIR_DB_USER: persisted.CLAIR_DB_USER || 'postgres',
    CLAIR_DB_NAME: persisted.CLAIR_DB_NAME || 'postgres',
    CLAIR_DB_PASSWORD: persisted.CLAIR_DB_PASSWORD || random(32),
    CLAIR_DB_ROOT_PW: '',
  };
  keys.CLAIR_DB_ROOT_PW = persisted.CLAIR_DB_ROOT_PW || keys.CLAIR_DB_PASSWORD;
  if (nonEmpty(userConfig.DB_URI)) keys.DB_URI = userConfig.DB_URI;
  else if (components.postgres?.managed) keys.DB_URI = nonEmpty(persisted.DB_URI) ? persisted.DB_URI : generatedDbUri(name, random(80));
  else if (nonEmpty(persisted.DB_URI)) keys.DB_URI = persisted.DB_URI;
  return keys;
}

export function managedKeysSecret(ctx: RenderContext): KubeObject {
  const data = Object.fromEntries(Object.entries(ctx.keys).filter(([, v]) => nonEmpty(v))) as Record<string, string>;
  return secret(ctx, managedKeysName(ctx.name), 'quay-app', 'quay', data);
}

export interface RenderedConfig {
  /** The merged config.yaml as data. */
  config: Record<string, unknown>;
  name: string;
  object: KubeObject;
}

/**
 * Merge, in Quay's operator's order: the user's config.yaml; the generated secrets (user values already
 * won in resolveManagedKeys); base keys the user left out; each managed component's keys on top; then
 * the builder settings the user left out. Keys are sorted, so equal input gives an equal Secret name.
 */
export function renderConfig(ctx: RenderContext): RenderedConfig {
  const config: Record<string, unknown> = structuredClone(ctx.userConfig);
  config.SECRET_KEY = ctx.keys.SECRET_KEY;
  config.DATABASE_SECRET_KEY = ctx.keys.DATABASE_SECRET_KEY;
  if (ctx.keys.DB_URI) config.DB_URI = ctx.keys.DB_URI;
  for (const [k, v] of Object.entries(baseConfig(ctx.userConfig))) if (!(k in config)) config[k] = v;
  if (ctx.clusterTls) Object.assign(config, ctx.clusterTls);
  for (const kind of COMPONENT_KINDS) {
    const overlay = isManaged(ctx, kind) ? COMPONENTS[kind].config?.(ctx) : undefined;
    if (overlay) Object.assign(config, structuredClone(overlay));
  }
  fillBuilderConfig(ctx, config);
  const data: Record<string, string> = { [CONFIG_KEY]: yaml.dump(config, { sortKeys: true, lineWidth: -1, noRefs: true }) };
  for (const [k, v] of Object.entries(ctx.bundle)) if (!consumedKey(k)) data[k] = v;
  const name = `${configSecretPrefix(ctx.name)}${contentHash(data)}`;
  return { config, name, object: secret(ctx, name, 'quay-app', 'quay', data) };
}
