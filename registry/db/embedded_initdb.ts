/**
 * `node embedded_initdb.js DIR`: creates an empty embedded (PGlite) database in DIR and exits. openEmbedded runs
 * it in a child process on a first start: initdb grows PGlite's WebAssembly memory to ~650 MB, which a process
 * never gives back, so the serving process only ever opens an initialised directory (~130 MB less at idle).
 */
import { PGlite } from '@electric-sql/pglite';
import { EMBEDDED_POSTGRES_SETTINGS } from './index.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: embedded_initdb.js DIR');
  process.exit(2);
}
const db = await PGlite.create(dir, { postgresqlconf: [...EMBEDDED_POSTGRES_SETTINGS] });
await db.close();
