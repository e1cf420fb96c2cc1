/**
 * The embedded default's first start (`npm start` without a config): the database is created by initdb in a
 * child process, so the serving process never carries initdb's memory (PGlite's WebAssembly memory never
 * shrinks: initdb in the serving process left it at 560-780 MB), and the registry works and keeps its data.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMBEDDED_POSTGRES_SETTINGS, openEmbedded } from '../../../registry/db/index.js';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob } from '../../helpers/v2.js';

/** Peak resident memory of a process so far, in MB. */
function peakRssMb(pid: number): number {
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

describe('embedded database, first start', () => {
  let dir: string;
  let reg: RegistryProcess | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'embedded-first-start-'));
  });
  afterAll(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a new data directory gets its database from a child initdb; the registry serves and keeps data across a restart', async () => {
    const dataDir = join(dir, 'data');
    // An empty db directory: the test helper copies no prepared database, so this start runs initdb.
    mkdirSync(join(dataDir, 'db'), { recursive: true });
    reg = await startRegistry({ dataDir, label: 'embedded-first-start' });
    expect(readdirSync(join(dataDir, 'db'))).toContain('PG_VERSION');
    expect(readdirSync(dataDir)).not.toContain('db.initdb');
    // initdb in this process peaked at 650-780 MB; opening an initialised directory stays under 300 MB.
    expect(peakRssMb(reg.process.child.pid!)).toBeLessThan(450);

    const c = V2Client.basic(reg);
    const layer = randomBlob(5000);
    const image = await c.pushImage('admin/first', 'v1', { layers: [layer] });
    await reg.stop();
    reg = await startRegistry({ dataDir, label: 'embedded-first-start' });
    const again = V2Client.basic(reg);
    const manifest = await again.req('GET', '/v2/admin/first/manifests/v1', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(image.digest);
    const blob = await again.req('GET', `/v2/admin/first/blobs/${layer.digest}`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(layer.data)).toBe(true);
  });

  test('a directory holding files but no database is refused with a clear error and left as it was', async () => {
    const dataDir = join(dir, 'not-a-db');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'notes.txt'), 'mine');
    await expect(openEmbedded(dataDir)).rejects.toThrow(/holds files but no database/);
    expect(readdirSync(dataDir)).toEqual(['notes.txt']);
    expect(readdirSync(dir)).not.toContain('not-a-db.initdb');
  });

  test('openEmbedded creates a database in a directory that does not exist yet', async () => {
    const dataDir = join(dir, 'nested', 'db');
    const db = await openEmbedded(dataDir);
    try {
      expect((await db.query<{ n: number }>('SELECT 1 + 1 AS n')).rows).toEqual([{ n: 2 }]);
      // The memory settings are in effect (PGlite hands them to Postgres at open).
      for (const setting of EMBEDDED_POSTGRES_SETTINGS) {
        const [name, value] = setting.split(/\s*=\s*/);
        expect((await db.query<Record<string, string>>(`SHOW ${name}`)).rows[0][name]).toBe(value);
      }
    } finally {
      await db.close();
    }
    expect(readdirSync(join(dir, 'nested'))).toEqual(['db']);
  });
});
