/**
 * Scanning benchmark (issue #17): the built-in scanner of the registry (Postgres + LocalStorage) against
 * osv-scanner on the same image and the same OSV database.
 *
 *   npm run bench -- scan [--image-mib 500] [--dpkg 400] [--npm 2000] [--manifests 20] [--replicas 4]
 *                         [--markdown FILE] [--keep]
 *
 * 1. An image built offline with umoci: a Debian 11 layer whose dpkg status lists `--dpkg` packages, an app
 *    layer with a package-lock.json and node_modules/ for `--npm` packages, and layers of incompressible
 *    filler files up to `--image-mib` MiB (the packages include versions the OSV fixtures affect, so matching
 *    does work too).
 * 2. Built-in: the image is pushed with skopeo; time from the push's end (its manifest PUT queues the index)
 *    to status `scanned`, and the registry's RSS when the push ended and its peak over the indexing (VmHWM
 *    reset then).
 * 3. osv-scanner (`scan image --archive --offline --all-packages`) on the same image as a docker archive
 *    whose layers are the very blobs the registry stores (gzip'ed, as pushed), so both scanners inflate the
 *    same bytes, with the same advisories as its offline database: wall time and peak RSS (/usr/bin/time),
 *    and the (name, version) package sets of both compared.
 * 4. Throughput: `--replicas` registry processes on one database and storage index `--manifests` small
 *    images (each with its own app layer) pushed into them; manifests indexed per minute, from the first
 *    push to the last `scanned`.
 */
import { cpus, loadavg } from 'node:os';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { REPO_ROOT, runDir, workDir } from '../../test/setup/paths.js';
import { clientSandbox, INSECURE, runTool, tool, type ClientSandbox } from '../../test/setup/tools.js';
import { createTestDatabase, startPostgres } from '../../test/setup/services.js';
import { REGISTRY_NODE_FLAGS } from '../../config/node.js';
import { startRegistry, type RegistryProcess } from '../../test/helpers/registry.js';
import { signin, type Api } from '../../test/integration/api/fixture.js';
import { PeakWatch, memStatus } from '../registry/rss.js';

const USAGE = `usage: npm run bench -- scan [options]
  --image-mib N    size of the big image's filler layers in MiB (default 500)
  --dpkg N         dpkg packages in its Debian layer (default 400)
  --npm N          npm packages in its app layer (default 2000)
  --manifests N    small images for the throughput measurement (default 20)
  --replicas N     registry processes indexing them (default 4)
  --markdown FILE  also write the result table (Markdown) to FILE
  --keep           keep the run's directory afterwards
`;

const MiB = 2 ** 20;
const ADMIN_PASSWORD = 'bench-admin-password';
const FIXTURES = join(REPO_ROOT, 'test/fixtures/osv');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The dpkg packages whose source package differs from their name (osv-scanner reports the source's name). */
const SOURCE_OF: Record<string, string> = { 'libssl1.1': 'openssl', zlib1g: 'zlib' };

const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nNAME="Debian GNU/Linux"\nVERSION_ID="11"\nVERSION="11 (bullseye)"\nVERSION_CODENAME=bullseye\nID=debian\n';

function write(root: string, files: Record<string, string | Buffer>): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** A dpkg status of `n` packages: the two the fixtures affect (openssl, zlib at vulnerable versions), then made-up ones. */
function dpkgStatus(n: number): string {
  const real = [
    ['libssl1.1', 'openssl', '1.1.1n-0+deb11u3'],
    ['zlib1g', 'zlib', '1:1.2.11.dfsg-2+deb11u1'],
  ];
  const entries = real.map(([p, src, v]) => `Package: ${p}\nStatus: install ok installed\nSource: ${src}\nVersion: ${v}\nArchitecture: amd64\nDescription: ${p}\n`);
  for (let i = entries.length; i < n; i++)
    entries.push(`Package: bench-pkg-${i}\nStatus: install ok installed\nVersion: 1.${i}-1\nArchitecture: amd64\nDescription: filler package ${i}\n multi-line description\n`);
  return entries.join('\n');
}

/** package-lock.json (v3) and node_modules/ for `n` packages, lodash 4.17.20 and semver 7.5.1 among them. */
function npmTree(n: number, salt: string): Record<string, string> {
  const names: Array<[string, string]> = [
    ['lodash', '4.17.20'],
    ['semver', '7.5.1'],
  ];
  for (let i = names.length; i < n; i++) names.push([`bench-npm-${i}`, `1.${i % 50}.${i % 7}`]);
  const packages: Record<string, unknown> = { '': { name: 'app', version: '1.0.0', dependencies: Object.fromEntries(names) } };
  const files: Record<string, string> = {};
  for (const [name, version] of names) {
    packages[`node_modules/${name}`] = {
      version,
      resolved: `https://registry.npmjs.org/${name}/-/${name}-${version}.tgz`,
      integrity: `sha512-${randomBytes(48).toString('base64')}`,
    };
    files[`app/node_modules/${name}/package.json`] = JSON.stringify({ name, version, main: 'index.js' });
  }
  files['app/package-lock.json'] = JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2);
  // npm's hidden lockfile, which npm writes beside installed modules: what osv-scanner's image mode reads for
  // node_modules (the built-in scanner reads package-lock.json and node_modules/*/package.json), so both see
  // the same npm packages.
  const { '': _root, ...installed } = packages;
  files['app/node_modules/.package-lock.json'] = JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages: installed }, null, 2);
  files['app/build-id'] = salt;
  return files;
}

async function filler(dir: string, mib: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const fileMiB = 16;
  for (let i = 0; i * fileMiB < mib; i++) {
    const size = Math.min(fileMiB, mib - i * fileMiB);
    const out = createWriteStream(join(dir, `blob-${i}.bin`));
    for (let k = 0; k < size; k++) if (!out.write(randomBytes(MiB))) await new Promise<void>((r) => out.once('drain', () => r()));
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

async function buildImages(sb: ClientSandbox, o: { imageMib: number; dpkg: number; npm: number; manifests: number }, log: (m: string) => void): Promise<string> {
  const layout = join(sb.dir, 'layout');
  await sb.run('umoci', ['init', '--layout', layout]);
  const base = write(join(sb.dir, 'base'), { 'etc/os-release': OS_RELEASE, 'etc/debian_version': '11.3\n', 'var/lib/dpkg/status': dpkgStatus(o.dpkg) });
  log(`building the big image (${o.dpkg} dpkg, ${o.npm} npm packages, ${o.imageMib} MiB of filler)`);
  await sb.run('umoci', ['new', '--image', `${layout}:big`]);
  await sb.run('umoci', ['insert', '--image', `${layout}:big`, base, '/']);
  await sb.run('umoci', ['insert', '--image', `${layout}:big`, write(join(sb.dir, 'app-big'), npmTree(o.npm, 'big')), '/']);
  // Filler in layers of at most 128 MiB, as real images split their content.
  for (let done = 0, i = 0; done < o.imageMib; i++) {
    const mib = Math.min(128, o.imageMib - done);
    const dir = join(sb.dir, `filler-${i}`);
    await filler(join(dir, `opt/data-${i}`), mib);
    await sb.run('umoci', ['insert', '--image', `${layout}:big`, dir, '/']);
    rmSync(dir, { recursive: true, force: true });
    done += mib;
  }
  log(`building ${o.manifests} small images`);
  for (let i = 0; i < o.manifests; i++) {
    await sb.run('umoci', ['new', '--image', `${layout}:small-${i}`]);
    await sb.run('umoci', ['insert', '--image', `${layout}:small-${i}`, base, '/']);
    await sb.run('umoci', ['insert', '--image', `${layout}:small-${i}`, write(join(sb.dir, `app-${i}`), npmTree(200, `small-${i}`)), '/']);
  }
  return layout;
}

/**
 * A docker archive (what `docker save` writes) of `tag` from the OCI layout, holding the layer blobs exactly as
 * stored (gzip'ed): the bytes the registry holds after the push. skopeo's docker-archive would decompress them.
 */
async function dockerArchive(layout: string, tag: string, out: string): Promise<void> {
  const blob = (digest: string) => join(layout, 'blobs', 'sha256', digest.split(':')[1]);
  const manifest = JSON.parse(readFileSync(blob(layoutDigest(layout, tag)), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(out));
  const add = (name: string, file: string) =>
    new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name, size: statSync(file).size }, (err) => (err ? reject(err) : resolve()));
      createReadStream(file).pipe(entry);
    });
  const config = `${manifest.config.digest.split(':')[1]}.json`;
  const layers = manifest.layers.map((l) => `${l.digest.split(':')[1]}.tar.gz`);
  await add(config, blob(manifest.config.digest));
  for (const [i, l] of manifest.layers.entries()) await add(layers[i], blob(l.digest));
  pack.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: config, RepoTags: [`bench/${tag}:latest`], Layers: layers }]));
  pack.finalize();
  await written;
}

async function until<T>(what: string, fn: () => Promise<T | null | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function layoutDigest(layout: string, tag: string): string {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  return index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!.digest;
}

/**
 * Where the registry's resident memory is, in MiB: RSS split into anonymous memory (heap, malloc, buffers) and
 * mapped files (the node binary's code), and the V8 heap and the memory outside it (Buffers) as the process's
 * /metrics reports them.
 */
async function memoryBreakdown(reg: RegistryProcess): Promise<string> {
  const status = readFileSync(`/proc/${reg.process.pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024;
  const metrics = await (await fetch(`${reg.url}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^quay_${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? 0) / MiB;
  const f = (x: number) => x.toFixed(0);
  return `RSS ${f(kb('VmRSS'))} (anon ${f(kb('RssAnon'))}, files ${f(kb('RssFile'))}), V8 heap ${f(metric('nodejs_heap_size_used_bytes'))} used of ${f(metric('nodejs_heap_size_total_bytes'))}, external ${f(metric('nodejs_external_memory_bytes'))} MiB`;
}

async function status(api: Api, repo: string, digest: string): Promise<string> {
  const r = await api.get(`/repository/${repo}/manifest/${digest}/security`);
  return r.status === 200 ? (r.body as { status: string }).status : `http ${r.status}`;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'image-mib': { type: 'string', default: '500' },
      dpkg: { type: 'string', default: '400' },
      npm: { type: 'string', default: '2000' },
      manifests: { type: 'string', default: '20' },
      replicas: { type: 'string', default: '4' },
      markdown: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = { imageMib: Number(values['image-mib']), dpkg: Number(values.dpkg), npm: Number(values.npm), manifests: Number(values.manifests), replicas: Number(values.replicas) };
  const log = (m: string) => process.stderr.write(`[bench scan] ${m}\n`);
  const load0 = loadavg();
  const cleanup: Array<() => Promise<void>> = [];
  try {
    const sb = clientSandbox('bench-scan');
    const layout = await buildImages(sb, o, log);
    const osvDir = workDir('bench-scan-osv');
    for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.json'))) writeFileSync(join(osvDir, f), readFileSync(join(FIXTURES, f)));

    const postgres = await startPostgres();
    cleanup.push(() => postgres.stop());
    const storage = workDir('bench-scan-storage');
    const config = {
      DB_URI: await createTestDatabase('bench-scan', postgres.url),
      DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: storage }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
      SUPER_USERS: ['admin'],
      FEATURE_SECURITY_SCANNER: true,
      SECURITY_SCANNER_INDEXING_INTERVAL: 1,
      SECURITY_SCANNER_OSV_DB_PATH: osvDir,
    };
    const start = async (label: string): Promise<RegistryProcess> => {
      const r = await startRegistry({ label, adminPassword: ADMIN_PASSWORD, config, env: { LOG_LEVEL: 'warn', NODE_OPTIONS: REGISTRY_NODE_FLAGS.join(' ') } });
      cleanup.push(() => r.stop());
      return r;
    };
    // One replica indexes the big image; the others join for step 4.
    const reg = await start('bench-scan-0');
    const replicas: RegistryProcess[] = [reg];
    const api = await signin(reg, 'admin', ADMIN_PASSWORD);
    const memory: Array<[string, string]> = [['started', await memoryBreakdown(reg)]];
    const creds = `admin:${ADMIN_PASSWORD}`;

    // 2. Built-in scanner on the big image.
    log('pushing the big image');
    await runTool('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', creds, `oci:${layout}:big`, `docker://${reg.hostPort}/admin/big:latest`], {
      env: sb.env,
      timeoutMs: 1_800_000,
    });
    // The index is queued by the manifest PUT, skopeo's last request: timing starts when skopeo ends.
    const t0 = Date.now();
    const rssBefore = memStatus(reg.process.pid).rss / MiB;
    const afterPush = memoryBreakdown(reg);
    const peak = new PeakWatch([reg.process.pid]);
    const big = layoutDigest(layout, 'big');
    const final = await until(
      'the big image indexed',
      async () => {
        const s = await status(api, 'admin/big', big);
        return s !== 'queued' ? s : null;
      },
      1_800_000,
    );
    const builtinSeconds = (Date.now() - t0) / 1000;
    const builtinRss = peak.stop().get(reg.process.pid)! / MiB;
    memory.push(['push ended', await afterPush], ['indexed', await memoryBreakdown(reg)]);
    for (const [when, m] of memory) log(`registry memory, ${when}: ${m}`);
    const report = (await api.get(`/repository/admin/big/manifest/${big}/security?vulnerabilities=true`)).body as {
      data: { Layer: { Features: Array<{ Vulnerabilities: unknown[] }> } };
    };
    const features = report.data?.Layer.Features ?? [];
    const vulns = features.reduce((n, f) => n + f.Vulnerabilities.length, 0);
    log(`built-in: ${final} in ${builtinSeconds.toFixed(1)} s, ${features.length} packages, ${vulns} vulnerabilities, peak RSS ${builtinRss.toFixed(0)} MiB`);

    // 3. osv-scanner on the same image.
    const archive = join(sb.dir, 'big.tar');
    await dockerArchive(layout, 'big', archive);
    const dbDir = join(sb.dir, 'osvdb');
    const byEcosystem = new Map<string, string[]>();
    for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.json'))) {
      const eco = (JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as { affected: Array<{ package: { ecosystem: string } }> }).affected[0].package.ecosystem.split(':')[0];
      byEcosystem.set(eco, [...(byEcosystem.get(eco) ?? []), join(FIXTURES, f)]);
    }
    for (const [eco, files] of byEcosystem) {
      mkdirSync(join(dbDir, 'osv-scalibr', eco), { recursive: true });
      await sb.run('python3', ['-m', 'zipfile', '-c', join(dbDir, 'osv-scalibr', eco, 'all.zip'), ...files]);
    }
    log('osv-scanner on the same image');
    const timeFile = join(sb.dir, 'osv-time.txt');
    const o0 = Date.now();
    const r = await runTool(
      '/usr/bin/time',
      ['-v', '-o', timeFile, tool('osv-scanner'), 'scan', 'image', '--archive', '--offline', '--offline-vulnerabilities', '--all-packages', '--format', 'json', archive],
      {
        env: { ...sb.env, OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY: dbDir },
        allowFail: true,
        timeoutMs: 1_800_000,
      },
    );
    const osvSeconds = (Date.now() - o0) / 1000;
    const osvRss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(timeFile, 'utf8'))?.[1] ?? 0) / 1024;
    // osv-scanner is much faster on uncompressed layers (what `docker save` writes): measured too, so the
    // comparison also holds against its best case.
    const plainArchive = join(sb.dir, 'big-uncompressed.tar');
    await sb.run('skopeo', ['copy', `oci:${layout}:big`, `docker-archive:${plainArchive}:bench/big:latest`]);
    const u0 = Date.now();
    const plain = await runTool(tool('osv-scanner'), ['scan', 'image', '--archive', '--offline', '--offline-vulnerabilities', '--format', 'json', plainArchive], {
      env: { ...sb.env, OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY: dbDir },
      allowFail: true,
      timeoutMs: 1_800_000,
    });
    const plainSeconds = (Date.now() - u0) / 1000;
    rmSync(plainArchive, { force: true });
    const problems: string[] = [];
    if (final !== 'scanned') problems.push(`the big image ended ${final}`);
    if (r.code !== 0 && r.code !== 1) problems.push(`osv-scanner exited ${r.code}: ${r.stderr.slice(-500)}`);
    if (plain.code !== 0 && plain.code !== 1) problems.push(`osv-scanner (uncompressed) exited ${plain.code}: ${plain.stderr.slice(-500)}`);
    // The package sets, as (name, version): osv-scanner names OS packages by source package, so dpkg packages
    // are compared by the name the fixtures' dpkg status gives both.
    const osvOut = JSON.parse(r.stdout || '{}') as { results?: Array<{ packages?: Array<{ package: { name: string; version: string } }> }> };
    const osvSet = new Set((osvOut.results ?? []).flatMap((x) => x.packages ?? []).map((p) => `${p.package.name}@${p.package.version}`));
    const ourSet = new Set(
      (report.data?.Layer.Features ?? []).map((f) => {
        const feature = f as unknown as { Name: string; Version: string };
        return `${SOURCE_OF[feature.Name] ?? feature.Name}@${feature.Version}`;
      }),
    );
    const onlyOurs = [...ourSet].filter((x) => !osvSet.has(x));
    const onlyOsv = [...osvSet].filter((x) => !ourSet.has(x));
    log(`package sets: built-in ${ourSet.size}, osv-scanner ${osvSet.size}, only built-in ${onlyOurs.length}, only osv-scanner ${onlyOsv.length}`);
    if (onlyOurs.length || onlyOsv.length) problems.push(`package sets differ: only built-in ${onlyOurs.slice(0, 5).join(' ')}; only osv-scanner ${onlyOsv.slice(0, 5).join(' ')}`);

    // 4. Throughput with several replicas.
    log(`${o.manifests} small images, ${o.replicas} replicas`);
    for (let i = 1; i < o.replicas; i++) replicas.push(await start(`bench-scan-${i}`));
    const p0 = Date.now();
    let next = 0;
    await Promise.all(
      replicas.map(async (target) => {
        for (let i = next++; i < o.manifests; i = next++) {
          await runTool('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', creds, `oci:${layout}:small-${i}`, `docker://${target.hostPort}/admin/small:s${i}`], {
            env: sb.env,
            timeoutMs: 600_000,
          });
        }
      }),
    );
    const smalls = Array.from({ length: o.manifests }, (_, i) => layoutDigest(layout, `small-${i}`));
    await until(
      'every small image indexed',
      async () => {
        for (const d of smalls) if ((await status(api, 'admin/small', d)) === 'queued') return false;
        return true;
      },
      1_800_000,
    );
    const perMinute = o.manifests / ((Date.now() - p0) / 60_000);

    const load1 = loadavg();
    const rows: Array<[string, string, string, string]> = [
      [`built-in: index the ${o.imageMib} MiB image (${o.dpkg} dpkg + ${o.npm} npm packages)`, `${builtinSeconds.toFixed(1)} s`, '–', '–'],
      ['osv-scanner 2.6 on the same image (docker archive of the same gzip layers, offline)', `${osvSeconds.toFixed(1)} s`, '–', '–'],
      [
        'packages found: built-in / osv-scanner / in both',
        `${ourSet.size} / ${osvSet.size} / ${[...ourSet].filter((x) => osvSet.has(x)).length}`,
        'same set',
        onlyOurs.length || onlyOsv.length ? '**differs**' : 'same',
      ],
      ['built-in / osv-scanner time (same gzip layers)', `${(builtinSeconds / osvSeconds).toFixed(2)}×`, '≤ 1.0×', builtinSeconds <= osvSeconds ? 'met' : '**missed**'],
      ['osv-scanner 2.6 on the image saved with uncompressed layers (skopeo docker-archive)', `${plainSeconds.toFixed(1)} s`, '–', '–'],
      [
        'built-in (gzip layers) / osv-scanner (uncompressed layers) time',
        `${(builtinSeconds / plainSeconds).toFixed(2)}×`,
        '≤ 1.0×',
        builtinSeconds <= plainSeconds ? 'met' : '**missed**',
      ],
      [
        'built-in: registry RSS when the push ended / peak while indexing',
        `${rssBefore.toFixed(0)} / ${builtinRss.toFixed(0)} MiB`,
        '< 150 MB',
        builtinRss * 1.048576 < 150 ? 'met' : '**missed**',
      ],
      ['osv-scanner peak RSS', `${osvRss.toFixed(0)} MiB`, '–', '–'],
      [`manifests indexed per minute, ${o.replicas} replicas (push of ${o.manifests} images included)`, `${perMinute.toFixed(1)}`, '–', '–'],
    ];
    const table = ['| measurement | value | target | result |', '|---|---:|---|---|', ...rows.map((x) => `| ${x.join(' | ')} |`)].join('\n');
    const notes = [
      ...memory.map(([when, m]) => `Registry memory, ${when}: ${m}.`),
      `Built-in report: ${features.length} packages, ${vulns} vulnerabilities (status ${final}).`,
      `Load average before / after: ${load0.map((x) => x.toFixed(2)).join(' ')} / ${load1.map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs.`,
    ];
    const out = `${table}\n\n${notes.join('\n')}\n`;
    process.stdout.write(out);
    if (values.markdown) writeFileSync(values.markdown, out);
    for (const p of problems) process.stderr.write(`problem: ${p}\n`);
    return problems.length ? 1 : 0;
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    if (!values.keep) rmSync(runDir(), { recursive: true, force: true });
    else log(`kept ${runDir()}`);
  }
}
