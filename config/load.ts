/**
 * Parse and validate a config.yaml: every problem is reported as `KEY: reason`; unknown keys are warnings, and
 * Quay keys this registry does not implement are warnings or errors by the list in unsupported.ts.
 */
import yaml from 'js-yaml';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { QuayConfigSchema, QUAY_KNOWN_KEYS, type QuayConfig } from './schema.js';
import { UNSUPPORTED_KEYS, unsupportedKeyProblems } from './unsupported.js';

export interface ConfigResult {
  config: QuayConfig;
  errors: string[];
  warnings: string[];
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid config.yaml:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

function keyOfPath(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts.join('.') || '(root)';
}

/** TypeBox's message, made specific where it is vague ("Expected union value" for a list of choices). */
function describeError(schema: TSchema, value: unknown, message: string): string {
  const choices = (schema.anyOf as TSchema[] | undefined)?.map((s) => s.const).filter((c) => c !== undefined);
  if (choices && choices.length > 0) return `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')} (got ${JSON.stringify(value)})`;
  if (typeof schema.pattern === 'string') return `${JSON.stringify(value)} does not match ${schema.pattern}`;
  return message;
}

/** Cross-key rules that a JSON schema cannot state. */
function semanticErrors(cfg: QuayConfig): string[] {
  const errors: string[] = [];
  const storage = cfg.DISTRIBUTED_STORAGE_CONFIG;
  if (storage) {
    const prefs = cfg.DISTRIBUTED_STORAGE_PREFERENCE ?? Object.keys(storage).slice(0, 1);
    for (const p of prefs) {
      if (!(p in storage)) errors.push(`DISTRIBUTED_STORAGE_PREFERENCE: location "${p}" is not in DISTRIBUTED_STORAGE_CONFIG`);
    }
    for (const [id, [driver, params]] of Object.entries(storage)) {
      const need = (k: string) => {
        if (params[k] === undefined || params[k] === '') errors.push(`DISTRIBUTED_STORAGE_CONFIG.${id}: ${driver} needs "${k}"`);
      };
      if (driver === 'LocalStorage') need('storage_path');
      else if (driver === 'S3Storage') {
        need('s3_bucket');
        if (params.host === undefined && params.endpoint_url === undefined && params.s3_region === undefined) {
          errors.push(`DISTRIBUTED_STORAGE_CONFIG.${id}: S3Storage needs "host", "endpoint_url" or "s3_region"`);
        }
      } else {
        need('hostname');
        need('bucket_name');
        need('access_key');
        need('secret_key');
      }
    }
  } else if (cfg.DISTRIBUTED_STORAGE_PREFERENCE) {
    errors.push('DISTRIBUTED_STORAGE_PREFERENCE: set without DISTRIBUTED_STORAGE_CONFIG');
  }
  if (!cfg.TAG_EXPIRATION_OPTIONS.includes(cfg.DEFAULT_TAG_EXPIRATION)) {
    errors.push(`DEFAULT_TAG_EXPIRATION: "${cfg.DEFAULT_TAG_EXPIRATION}" is not one of TAG_EXPIRATION_OPTIONS`);
  }
  if (cfg.FEATURE_RECAPTCHA && (!cfg.RECAPTCHA_SITE_KEY || !cfg.RECAPTCHA_SECRET_KEY)) {
    errors.push('FEATURE_RECAPTCHA: needs RECAPTCHA_SITE_KEY and RECAPTCHA_SECRET_KEY');
  }
  if (cfg.FEATURE_RECAPTCHA && !/^https?:\/\//.test(cfg.RECAPTCHA_VERIFY_URL)) {
    errors.push(`RECAPTCHA_VERIFY_URL: "${cfg.RECAPTCHA_VERIFY_URL}" is not an http(s) URL`);
  }
  return errors;
}

/** Validate an already-parsed config object (the operator uses this on bundles). */
export function validateConfig(raw: unknown): ConfigResult {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { config: Value.Default(QuayConfigSchema, {}) as QuayConfig, errors: ['(root): config.yaml must be a YAML mapping'], warnings: [] };
  }
  const input = structuredClone(raw) as Record<string, unknown>;
  const withDefaults = Value.Default(QuayConfigSchema, input) as QuayConfig;
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(QuayConfigSchema, withDefaults)) {
    const line = `${keyOfPath(e.path)}: ${describeError(e.schema, e.value, e.message)}`;
    if (!seen.has(line)) {
      seen.add(line);
      errors.push(line);
    }
  }
  const known = new Set([...Object.keys(QuayConfigSchema.properties), ...QUAY_KNOWN_KEYS, ...Object.keys(UNSUPPORTED_KEYS)]);
  const warnings = Object.keys(input)
    .filter((k) => !known.has(k))
    .map((k) => `${k}: unknown key, ignored`);
  const unsupported = unsupportedKeyProblems(input);
  warnings.push(...unsupported.warnings);
  if (errors.length === 0) errors.push(...unsupported.errors, ...semanticErrors(withDefaults));
  return { config: withDefaults, errors, warnings };
}

/** Parse YAML text and validate it. A YAML syntax error is reported as a `(root)` problem. */
export function parseConfig(text: string): ConfigResult {
  let raw: unknown;
  try {
    raw = yaml.load(text);
  } catch (err) {
    return { config: Value.Default(QuayConfigSchema, {}) as QuayConfig, errors: [`(root): invalid YAML: ${(err as Error).message}`], warnings: [] };
  }
  return validateConfig(raw);
}

/** The defaults alone: what the registry runs with when no config file is given. */
export function defaultConfig(): QuayConfig {
  return Value.Default(QuayConfigSchema, {}) as QuayConfig;
}
