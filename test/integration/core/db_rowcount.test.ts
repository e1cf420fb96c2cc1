/**
 * `rowCount` means the same on both databases: the rows a SELECT returned, the rows an UPDATE or DELETE
 * touched. PGlite reports `affectedRows` 0 for a SELECT, which read as "no row" in embedded mode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openEmbedded, openPostgres, type Db } from '../../../registry/db/index.js';
import { createTestDatabase, dropTestDatabase } from '../../setup/services.js';

async function expectRowCounts(db: Db): Promise<void> {
  await db.query('CREATE TEMP TABLE rc (a int)');
  await db.query('INSERT INTO rc VALUES (1), (2), (3)');
  expect((await db.query('SELECT 1 FROM rc WHERE a > 1')).rowCount).toBe(2);
  expect((await db.query('SELECT 1 FROM rc WHERE a > 9')).rowCount).toBe(0);
  expect((await db.query('UPDATE rc SET a = a + 10 WHERE a < 3')).rowCount).toBe(2);
  expect((await db.query('UPDATE rc SET a = 0 WHERE a = 99')).rowCount).toBe(0);
  expect((await db.query('DELETE FROM rc WHERE a > 10 RETURNING a')).rowCount).toBe(2);
}

test('Postgres', async () => {
  const uri = await createTestDatabase('rowcount');
  const db = await openPostgres(uri, { max: 1 });
  try {
    await expectRowCounts(db);
  } finally {
    await db.close();
    await dropTestDatabase(uri);
  }
});

test('PGlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rowcount-pglite-'));
  const db = await openEmbedded(dir);
  try {
    await expectRowCounts(db);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
