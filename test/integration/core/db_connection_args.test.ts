/**
 * DB_CONNECTION_ARGS on real Postgres servers: the pool size, the application name, and libpq's sslmode
 * against a server without TLS and one with a certificate from a test CA (verify-full with the right CA
 * connects; with another CA it is refused; disable stays plaintext). Unknown arguments and peewee switches
 * turned off are refused by the config loader.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseConfig } from '../../../config/index.js';
import { openDatabase, type Db } from '../../../registry/db/index.js';
import type { QuayConfig } from '../../../config/index.js';
import { generateCa, issueServingCert } from '../../../operator/tls.js';
import { createTestDatabase, dropTestDatabase, startPostgres, type PostgresService } from '../../setup/services.js';

let plainUri: string;
let tlsServer: PostgresService;
const files = mkdtempSync(join(tmpdir(), 'db-args-'));
const caFile = join(files, 'ca.crt');
const otherCaFile = join(files, 'other-ca.crt');
const opened: Db[] = [];

beforeAll(async () => {
  plainUri = await createTestDatabase('dbargs');
  const ca = await generateCa('db-args test CA');
  writeFileSync(caFile, ca.cert);
  writeFileSync(otherCaFile, (await generateCa('another CA')).cert);
  tlsServer = await startPostgres({ tls: await issueServingCert(ca, ['127.0.0.1', 'localhost']) });
});

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
});

afterAll(async () => {
  await dropTestDatabase(plainUri);
  await tlsServer?.stop();
});

function configWith(uri: string, args: Record<string, unknown>): QuayConfig {
  const { config, errors } = parseConfig(JSON.stringify({ DB_URI: uri, DB_CONNECTION_ARGS: args }));
  expect(errors).toEqual([]);
  return config;
}

async function open(uri: string, args: Record<string, unknown>): Promise<Db> {
  const db = await openDatabase(configWith(uri, args), files);
  opened.push(db);
  return db;
}

/** This connection's TLS state, as the server sees it. */
async function ssl(db: Db): Promise<boolean> {
  const r = await db.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  return r.rows[0].ssl;
}

test("max_connections bounds the pool and application_name names its connections; Quay's peewee switches are accepted", async () => {
  const db = await open(plainUri, { autorollback: true, threadlocals: true, max_connections: 2, application_name: 'quay-ts-args' });
  await Promise.all(Array.from({ length: 8 }, () => db.query('SELECT pg_sleep(0.2)')));
  const admin = new pg.Client({ connectionString: plainUri });
  await admin.connect();
  try {
    const r = await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'quay-ts-args'");
    expect(Number(r.rows[0].n)).toBe(2);
  } finally {
    await admin.end();
  }
});

test('sslmode require against a server without TLS is refused at open; disable connects in plaintext', async () => {
  await expect(open(plainUri, { sslmode: 'require' })).rejects.toThrow(/does not support SSL/i);
  expect(await ssl(await open(plainUri, { sslmode: 'disable' }))).toBe(false);
});

test('verify-full with the server CA connects over TLS; with another CA it is refused; require encrypts without checking', async () => {
  const uri = `${tlsServer.url.replace('@127.0.0.1', '@localhost')}`;
  expect(await ssl(await open(uri, { sslmode: 'verify-full', sslrootcert: caFile }))).toBe(true);
  await expect(open(uri, { sslmode: 'verify-full', sslrootcert: otherCaFile })).rejects.toThrow(/certificate/i);
  expect(await ssl(await open(uri, { sslmode: 'require' }))).toBe(true);
  expect(await ssl(await open(uri, { sslmode: 'disable' }))).toBe(false);
});

test('unknown arguments and peewee switches turned off are configuration errors', () => {
  for (const args of [{ max_conections: 5 }, { autorollback: false }, { sslmode: 'maybe' }, { max_connections: 0 }]) {
    const { errors } = parseConfig(JSON.stringify({ DB_URI: plainUri, DB_CONNECTION_ARGS: args }));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(/DB_CONNECTION_ARGS/);
  }
});
