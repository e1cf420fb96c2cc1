/**
 * Fault campaign (issue 13), the CI-sized part: the registry is SIGKILLed at random moments while 4 skopeo
 * clients push images that share a layer, on LocalStorage and on S3 (MinIO), with Postgres. After each restart
 * every blob the database shows has complete bytes that hash to its digest, every manifest's references
 * exist, and every client's push completes when retried. FAULT_KILLS=50 runs the long variant.
 * Disk full: on a small tmpfs, an upload that does not fit fails with a clear error, nothing partial is
 * published, and reads keep working.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { startRegistry, scaleOutConfig, basicAuth, type RegistryProcess } from '../../helpers/registry.js';
import { RawRequest } from '../../helpers/raw.js';
import { V2Client, randomBlob, sha256 } from '../../helpers/v2.js';
import { createTestDatabase, s3Client } from '../../setup/services.js';
import { clientSandbox, INSECURE, type ClientSandbox } from '../../setup/tools.js';
import { workDir } from '../../setup/paths.js';

const KILLS = Number(process.env.FAULT_KILLS ?? 5);

/** An OCI layout with one image: a layer shared by every image, two of its own, and a config. */
function ociLayout(dir: string, shared: Buffer, n: number): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (data: Buffer) => {
    const d = sha256(data);
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), data);
    return { digest: d, size: data.length };
  };
  const layers = [shared, randomBytes(1_500_000 + n * 1000), randomBytes(700_000 + n * 1000)].map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(b) }));
  const config = {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    ...put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n }))),
  };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers }));
  const m = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m }] }));
}

async function hashOf(stream: Readable): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of stream) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

const storages: Array<[string, (localDir: string) => Promise<Record<string, unknown>>]> = [
  [
    'LocalStorage',
    async (localDir) => ({
      DB_URI: await createTestDatabase('faults'),
      SUPER_USERS: ['admin'],
      DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: localDir }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
    }),
  ],
  ['S3 (MinIO)', () => scaleOutConfig()],
];

describe.each(storages)('SIGKILL during concurrent skopeo pushes, %s', (_name, makeConfig) => {
  test(
    `${KILLS} kills: what the database shows is complete and verified, every push completes on retry`,
    async () => {
      const dir = workDir('faults');
      const localDir = join(dir, 'storage');
      const config = await makeConfig(localDir);
      const sb: ClientSandbox = clientSandbox('faults-clients');
      const shared = randomBytes(1_000_000);
      const layouts = Array.from({ length: 4 }, (_, i) => {
        const d = join(dir, `image${i}`);
        ociLayout(d, shared, i);
        return d;
      });
      // One password login before the concurrent clients: the login backoff counts an attempt before checking
      // the password, so simultaneous first logins of one user are refused with 429 until one has succeeded.
      const start = async (opts: { dataDir?: string; port?: number } = {}) => {
        const r = await startRegistry({ config, label: 'faults', ...opts });
        expect((await V2Client.basic(r).req('GET', '/v2/')).status).toBe(200);
        return r;
      };
      let reg: RegistryProcess = await start();
      const { port, dataDir } = reg;
      const creds = `${reg.admin.username}:${reg.admin.password}`;
      const push = (i: number, tag: string, timeoutMs = 120_000) =>
        sb.run('skopeo', ['copy', '--retry-times', '0', ...INSECURE.skopeoCopy, '--dest-creds', creds, `oci:${layouts[i]}`, `docker://${reg.hostPort}/admin/fault${i}:${tag}`], {
          allowFail: true,
          timeoutMs,
        });

      const db = new pg.Client({ connectionString: String(config.DB_URI) });
      await db.connect();
      const s3: Record<string, string | number> | undefined = (config.DISTRIBUTED_STORAGE_CONFIG as Record<string, [string, Record<string, string | number>]>).s3?.[1];
      const s3c = s3
        ? s3Client({ endpoint: `http://${s3.host}:${s3.port}`, accessKey: String(s3.s3_access_key), secretKey: String(s3.s3_secret_key), region: String(s3.s3_region) })
        : null;
      const readStored = async (digest: string): Promise<Readable> => {
        const rel = `sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
        if (!s3c) return (await import('node:fs')).createReadStream(join(localDir, rel));
        return (await s3c.send(new GetObjectCommand({ Bucket: String(s3!.s3_bucket), Key: `registry/${rel}` }))).Body as Readable;
      };
      let verifiedBlobs = 0;
      try {
        for (let kill = 0; kill < KILLS; kill++) {
          const pushes = layouts.map((_, i) => push(i, `k${kill}`));
          await sleep(300 + Math.floor(Math.random() * 2500));
          await reg.kill();
          await Promise.all(pushes);
          reg = await start({ dataDir, port });

          // Everything the database shows is complete: every blob's stored bytes hash to its digest with its size.
          const blobs = await db.query<{ digest: string; size: string }>('SELECT digest, size FROM blob');
          for (const b of blobs.rows) {
            const actual = await hashOf(await readStored(b.digest));
            expect(actual).toEqual({ digest: b.digest, size: Number(b.size) });
            verifiedBlobs++;
          }
          // Every manifest's bytes hash to its digest and every blob it references exists.
          const manifests = await db.query<{ digest: string; bytes: Buffer }>('SELECT digest, bytes FROM manifest WHERE deleted_at IS NULL');
          for (const m of manifests.rows) expect(sha256(m.bytes)).toBe(m.digest);
          const dangling = await db.query('SELECT 1 FROM manifest_blob mb LEFT JOIN blob b ON b.id = mb.blob_id WHERE b.id IS NULL');
          expect(dangling.rows).toEqual([]);
          // Every client can finish: the retried push completes and the image is served by digest.
          const retried = await Promise.all(layouts.map((_, i) => push(i, `k${kill}`, 300_000)));
          for (const r of retried) expect({ code: r.code, stderr: r.stderr.slice(-400) }).toEqual({ code: 0, stderr: r.stderr.slice(-400) });
          const c = V2Client.basic(reg);
          for (let i = 0; i < layouts.length; i++) {
            // skopeo compresses the layers on the way, so the image is checked as the registry serves it.
            const got = await c.req('GET', `/v2/admin/fault${i}/manifests/k${kill}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
            expect(got.status).toBe(200);
            const bytes = Buffer.from(await got.arrayBuffer());
            expect(sha256(bytes)).toBe(got.headers.get('docker-content-digest'));
            const m = JSON.parse(bytes.toString()) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
            for (const d of [m.config, ...m.layers]) {
              const blob = await c.req('GET', `/v2/admin/fault${i}/blobs/${d.digest}`);
              expect({ digest: sha256(Buffer.from(await blob.arrayBuffer())), status: blob.status }).toEqual({ digest: d.digest, status: 200 });
            }
          }
        }
        process.stdout.write(`fault campaign ${_name}: ${KILLS} kills survived, ${verifiedBlobs} blob checks\n`);
      } finally {
        s3c?.destroy();
        await db.end();
        await reg.stop();
      }
    },
    240_000 + KILLS * 180_000,
  );
});

describe('disk full on LocalStorage', () => {
  let reg: RegistryProcess;
  let mount: string;

  beforeAll(async () => {
    mount = workDir('diskfull-mnt');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mount]);
    reg = await startRegistry({
      label: 'diskfull',
      config: { SUPER_USERS: ['admin'], DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: mount }] }, DISTRIBUTED_STORAGE_PREFERENCE: ['local'] },
    });
  });
  afterAll(async () => {
    await reg?.stop();
    execFileSync('umount', [mount]);
  });

  test('an upload that does not fit fails clearly, nothing partial is published, reads keep working', async () => {
    const c = V2Client.basic(reg);
    const small = randomBlob(2 * 1024 * 1024);
    expect((await c.pushBlob('admin/full', small)).status).toBe(201);
    const big = randomBlob(5 * 1024 * 1024);
    // On its own connection: the server answers before reading the whole body and then closes it.
    const loc = (await c.req('POST', '/v2/admin/full/blobs/uploads/')).headers.get('location')!;
    const put = await RawRequest.open(reg.url, 'PUT', `${loc}?digest=${big.digest}`, {
      authorization: basicAuth(reg.admin.username, reg.admin.password),
      'content-type': 'application/octet-stream',
      'content-length': String(big.size),
    });
    await put.write(big.data).catch(() => undefined);
    const res = await put.response();
    expect(res.status).toBe(507);
    expect((JSON.parse(res.body.toString()) as { errors: Array<{ code: string }> }).errors[0].code).toBe('UNAVAILABLE');
    expect((await c.req('HEAD', `/v2/admin/full/blobs/${big.digest}`)).status).toBe(404);
    const back = await c.req('GET', `/v2/admin/full/blobs/${small.digest}`);
    expect(back.status).toBe(200);
    expect(sha256(Buffer.from(await back.arrayBuffer()))).toBe(small.digest);
    // The failed upload left no staged bytes behind: what fits still uploads.
    const next = randomBlob(1024 * 1024);
    expect((await c.pushBlob('admin/full', next)).status).toBe(201);
  });
});
