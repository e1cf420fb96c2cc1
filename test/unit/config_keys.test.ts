/**
 * Every key of the config schema is read somewhere in the registry or operator code (a key accepted and
 * ignored is a defect): each must appear as a property access or a quoted name in registry/, operator/ or
 * config/ outside the schema's own declaration (config/ holds the helpers that pick the public keys), or, for a
 * feature flag only the web UI acts on, as `features.NAME` in the UI's sources (registry/ui/src).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuayConfigSchema, QUAY_KNOWN_KEYS } from '../../config/schema.js';
import { UNSUPPORTED_KEYS } from '../../config/unsupported.js';
import { REPO_ROOT } from '../setup/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(p);
    return /\.tsx?$/.test(e.name) ? [readFileSync(p, 'utf8')] : [];
  });
}

test('every schema key is read in registry/, operator/ or config/ helpers', () => {
  const config = readdirSync(join(REPO_ROOT, 'config'))
    .filter((f) => f.endsWith('.ts') && f !== 'schema.ts')
    .map((f) => readFileSync(join(REPO_ROOT, 'config', f), 'utf8'));
  const code = [...sources(join(REPO_ROOT, 'registry')), ...sources(join(REPO_ROOT, 'operator')), ...config].join('\n');
  // The web UI reads a feature flag by its published name (GET /config's features.NAME for FEATURE_NAME).
  const read = (key: string) =>
    new RegExp(`(\\.${key}\\b|['"\`]${key}['"\`])`).test(code) || (key.startsWith('FEATURE_') && new RegExp(`features\\.${key.slice(8)}\\b`).test(code));
  const unread = Object.keys(QuayConfigSchema.properties).filter((key) => !read(key));
  expect(unread).toEqual([]);
});

test('a key is implemented (schema), unsupported (reported) or inert, never two of these', () => {
  const schema = Object.keys(QuayConfigSchema.properties);
  const unsupported = Object.keys(UNSUPPORTED_KEYS);
  expect(schema.filter((k) => unsupported.includes(k) || QUAY_KNOWN_KEYS.includes(k))).toEqual([]);
  expect(unsupported.filter((k) => QUAY_KNOWN_KEYS.includes(k))).toEqual([]);
});
