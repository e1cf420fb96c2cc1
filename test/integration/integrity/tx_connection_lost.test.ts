/**
 * A transaction whose Postgres connection is cut while it awaits something other than a query (storage, a cache
 * fence): the loss must fail that transaction as Unavailable (a 503 in every protocol) and leave the process and
 * the pool working. pg-pool removes its error listener from checked-out clients, so before the fix the lost
 * connection's 'error' event had no listener and killed the process (seen as a registry worker dying, and its
 * clients hanging, when Postgres was restarted under load).
 */
import pg from 'pg';
import { openPostgres, type Db } from '../../../registry/db/index.js';
import { Unavailable } from '../../../registry/model/errors.js';
import { createTestDatabase, dropTestDatabase } from '../../setup/services.js';

let uri: string;
let db: Db;
let admin: pg.Client;

beforeAll(async () => {
  uri = await createTestDatabase('txlost');
  db = await openPostgres(uri, { max: 2 });
  admin = new pg.Client({ connectionString: uri });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await db?.close();
  await dropTestDatabase(uri);
});

const backendGone = async (pid: number): Promise<void> => {
  for (;;) {
    const r = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
    if (r.rowCount === 0) return;
    await new Promise((ok) => setTimeout(ok, 20));
  }
};

test('a connection terminated between two statements of a transaction fails it as Unavailable, and the pool serves the next one', async () => {
  const outcome = db.tx(async (q) => {
    const { rows } = await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // The transaction now waits on non-database work while its backend is terminated.
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await backendGone(rows[0].pid);
    // Let the socket's FATAL message and close reach the client before the next statement.
    await new Promise((ok) => setImmediate(ok));
    await q.query('SELECT 1');
  });
  await expect(outcome).rejects.toBeInstanceOf(Unavailable);

  const { rows } = await db.query<{ ok: number }>('SELECT 1 AS ok');
  expect(rows).toEqual([{ ok: 1 }]);
  expect(await db.tx(async (q) => (await q.query<{ n: number }>('SELECT 2 AS n')).rows[0].n)).toBe(2);
});
