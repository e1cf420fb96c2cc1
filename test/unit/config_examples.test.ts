/**
 * `main.js verify --config FILE` (the config linter) on every example under config/examples/ (each must be
 * valid), and on broken configs (each problem named, exit 1).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../setup/paths.js';

const verify = (file: string) => spawnSync(process.execPath, [join(REPO_ROOT, 'dist/registry/main.js'), 'verify', '--config', file], { encoding: 'utf8', timeout: 60_000 });
const examplesDir = join(REPO_ROOT, 'config/examples');
const examples = readdirSync(examplesDir).filter((f) => f.endsWith('.yaml'));

test('there are examples to check', () => {
  expect(examples.length).toBeGreaterThanOrEqual(3);
});

test.each(examples)('config/examples/%s is valid', (name) => {
  const r = verify(join(examplesDir, name));
  expect({ status: r.status, out: r.stdout }).toEqual({ status: 0, out: expect.stringContaining(`${join(examplesDir, name)}: valid (0 errors`) });
});

test('invalid and unknown keys are reported, and the exit status says invalid', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verify-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'PREFERRED_URL_SCHEME: gopher\nREGISTRY_STATE: frozen\nNOT_A_QUAY_KEY: 1\n');
  const r = verify(file);
  expect(r.status).toBe(1);
  expect(r.stdout).toMatch(/^error: PREFERRED_URL_SCHEME: must be one of "http", "https" \(got "gopher"\)$/m);
  expect(r.stdout).toMatch(/^error: REGISTRY_STATE: must be one of "normal", "readonly" \(got "frozen"\)$/m);
  expect(r.stdout).toMatch(/^warning: NOT_A_QUAY_KEY: /m);
  expect(r.stdout).toContain(`${file}: invalid (2 errors, `);
});

test('https without a certificate or a terminating proxy, and half a TLS pair, are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verify-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'PREFERRED_URL_SCHEME: https\n');
  expect(verify(file).stdout).toMatch(/^error: PREFERRED_URL_SCHEME: https without EXTERNAL_TLS_TERMINATION needs ssl.cert and ssl.key/m);
  writeFileSync(join(dir, 'ssl.cert'), 'not a certificate');
  const half = verify(file);
  expect(half.status).toBe(1);
  expect(half.stdout).toMatch(/^error: ssl.cert\/ssl.key: .*ssl.cert exists but .*ssl.key does not/m);
});
