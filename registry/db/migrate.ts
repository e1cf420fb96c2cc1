/** Runs schema migrations at start: idempotent, each in a transaction, under an advisory lock so replicas do not race. */
import type { Db } from './index.js';
import { MIGRATIONS } from './migrations/index.js';

const LOCK_KEY = 774411; // arbitrary, constant: every replica contends for the same lock

export async function migrate(db: Db): Promise<number[]> {
  return db.tx(async (q) => {
    // A transaction-scoped lock: released at commit, also if the process dies.
    await q.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await q.exec('CREATE TABLE IF NOT EXISTS schema_migration (version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
    const done = new Set((await q.query<{ version: number }>('SELECT version FROM schema_migration')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await q.exec(m.sql);
      await q.query('INSERT INTO schema_migration (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
