/**
 * What `GET /config` publishes to web clients, as Quay's `frontend_visible_config` does: an explicit list of
 * presentational keys (never a secret), and every feature flag under its name without `FEATURE_`.
 */
import { QuayConfigSchema, type QuayConfig } from './schema.js';

/** Quay 3.8's CLIENT_WHITELIST, restricted to the keys this project implements. */
export const CLIENT_VISIBLE_KEYS = [
  'SERVER_HOSTNAME',
  'PREFERRED_URL_SCHEME',
  'ENTERPRISE_LOGO_URL',
  'AUTHENTICATION_TYPE',
  'REGISTRY_TITLE',
  'REGISTRY_TITLE_SHORT',
  'CONTACT_INFO',
  'TAG_EXPIRATION_OPTIONS',
  'BRANDING',
  'DOCUMENTATION_ROOT',
  'FOOTER_LINKS',
  'ROBOTS_DISALLOW',
  'RECAPTCHA_SITE_KEY',
  'FEATURE_REPO_MIRROR',
  'FEATURE_QUOTA_MANAGEMENT',
  'FEATURE_EDIT_QUOTA',
  'FEATURE_PROXY_CACHE',
] as const satisfies readonly (keyof QuayConfig)[];

export function frontendVisibleConfig(config: QuayConfig): Record<string, unknown> {
  const visible: Record<string, unknown> = {};
  for (const key of CLIENT_VISIBLE_KEYS) {
    if (config[key] !== undefined) visible[key] = config[key];
  }
  // As Quay: a configured logo URL is also the branding logo.
  if (config.ENTERPRISE_LOGO_URL) visible.BRANDING = { ...(config.BRANDING ?? {}), logo: config.ENTERPRISE_LOGO_URL };
  return visible;
}

/** Every FEATURE_* key of the schema with its effective value, named as Quay's `features.get_features()`. */
export function featureFlags(config: QuayConfig): Record<string, boolean> {
  const flags: Record<string, boolean> = {};
  for (const key of Object.keys(QuayConfigSchema.properties)) {
    if (key.startsWith('FEATURE_')) flags[key.slice('FEATURE_'.length)] = Boolean((config as Record<string, unknown>)[key]);
  }
  return flags;
}
