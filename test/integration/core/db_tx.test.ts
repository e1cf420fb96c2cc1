/**
 * A transaction's last statement sent with its COMMIT (`commitWith`) and its generic plans (`genericPlans`), on
 * both databases: the last statement commits with the rest, a failing one rolls all of it back and leaves the
 * connection usable, and the plan setting does not outlive the transaction.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openEmbedded, openPostgres, type Db } from '../../../registry/db/index.js';
import { createTestDatabase, dropTestDatabase } from '../../setup/services.js';

async function expectCommitWith(db: Db): Promise<void> {
  await db.query('CREATE TABLE IF NOT EXISTS cw (a int PRIMARY KEY)');
  await db.query('TRUNCATE cw');

  const r = await db.tx(async (q) => {
    await q.query('INSERT INTO cw VALUES ($1)', [1]);
    q.commitWith('INSERT INTO cw VALUES (2)');
    return 'done';
  });
  expect(r).toBe('done');
  expect((await db.query<{ a: number }>('SELECT a FROM cw ORDER BY a')).rows.map((x) => x.a)).toEqual([1, 2]);

  // The last statement fails (a duplicate key): nothing of the transaction stays, and tx rejects with the error.
  const failed = db.tx(async (q) => {
    await q.query('INSERT INTO cw VALUES ($1)', [3]);
    q.commitWith('INSERT INTO cw VALUES (1)');
  });
  await expect(failed).rejects.toThrow(/duplicate key/);
  expect((await db.query<{ a: number }>('SELECT a FROM cw ORDER BY a')).rows.map((x) => x.a)).toEqual([1, 2]);

  // The connection is back in the pool outside any transaction: the next one commits normally.
  await db.tx(async (q) => {
    await q.query('INSERT INTO cw VALUES ($1)', [4]);
  });
  expect((await db.query<{ a: number }>('SELECT a FROM cw ORDER BY a')).rows.map((x) => x.a)).toEqual([1, 2, 4]);
}

test('Postgres: commitWith commits with the transaction, or rolls all of it back', async () => {
  const uri = await createTestDatabase('dbtx');
  const db = await openPostgres(uri, { max: 1 });
  try {
    await expectCommitWith(db);
  } finally {
    await db.close();
    await dropTestDatabase(uri);
  }
});

test('Postgres: genericPlans holds for its transaction only', async () => {
  const uri = await createTestDatabase('dbtx_plans');
  // One connection: the statements after the transaction run on the connection it used.
  const db = await openPostgres(uri, { max: 1 });
  try {
    const mode = async (q: Pick<Db, 'query'>) => (await q.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0].plan_cache_mode;
    const before = await mode(db);
    expect(before).toBe('auto');
    expect(await db.tx((q) => mode(q), { genericPlans: true })).toBe('force_generic_plan');
    expect(await mode(db)).toBe(before);
    expect(await db.tx((q) => mode(q))).toBe(before);
    await expect(
      db.tx(
        async (q) => {
          await q.query('SELECT 1/0');
        },
        { genericPlans: true },
      ),
    ).rejects.toThrow(/division by zero/);
    expect(await mode(db)).toBe(before);
  } finally {
    await db.close();
    await dropTestDatabase(uri);
  }
});

test('PGlite: commitWith commits with the transaction, or rolls all of it back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dbtx-pglite-'));
  const db = await openEmbedded(dir);
  try {
    await expectCommitWith(db);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
