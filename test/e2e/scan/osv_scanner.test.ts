/**
 * Cross-check with a reference scanner: osv-scanner (Go module github.com/google/osv-scanner/v2, built by
 * test/setup/install.sh) runs offline on the same image archives with the same OSV database (as its local
 * per-ecosystem all.zip files), and must find the same (package, vulnerability) set as the built-in scanner.
 */
import { createReadStream, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { clientSandbox, runTool, tool, type ClientSandbox } from '../../setup/tools.js';
import { REPO_ROOT } from '../../setup/paths.js';
import { indexImage } from '../../../registry/scan/indexer.js';
import { readOsvDatabase, affectedKey, type OsvRecord } from '../../../registry/scan/osv.js';
import { buildSecurityData } from '../../../registry/scan/report.js';
import { buildScanImages } from './images.js';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/osv');

let sb: ClientSandbox;
let layout: string;
let dbDir: string;
let records: OsvRecord[];

/** (package, vulnerability) pairs the built-in scanner finds in an image of the OCI layout. */
async function builtinFindings(tag: string): Promise<string[]> {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
  const digest = index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === tag)!.digest;
  const blob = (d: string) => join(layout, 'blobs', 'sha256', d.split(':')[1]);
  const manifest = JSON.parse(readFileSync(blob(digest), 'utf8')) as { layers: Array<{ digest: string }> };
  const report = await indexImage(manifest.layers.map((l) => ({ digest: l.digest, open: async () => createReadStream(blob(l.digest)) })));
  const byKey = new Map<string, OsvRecord[]>();
  for (const r of records) {
    for (const a of r.affected ?? []) {
      const k = affectedKey(a.package!.ecosystem!, a.package!.name!);
      const key = `${k.ecosystem}\0${k.name}`;
      if (!byKey.get(key)?.includes(r)) byKey.set(key, [...(byKey.get(key) ?? []), r]);
    }
  }
  const data = buildSecurityData(digest, report.distribution, report.packages, byKey, (p) => {
    const k = affectedKey(p.ecosystem, p.matchName);
    return `${k.ecosystem}\0${k.name}`;
  });
  // osv-scanner reports OS packages under their source package (openssl for libssl1.1), as advisories name them
  const shown = (i: number) => (report.packages[i].kind === 'binary' ? report.packages[i].matchName : report.packages[i].name);
  return [...new Set(data.Layer.Features.flatMap((f, i) => f.Vulnerabilities.map((v) => `${shown(i)} ${v.Name}`)))].sort();
}

/** The same pairs from osv-scanner's JSON output for the image saved as a docker archive. */
async function osvScannerFindings(tag: string): Promise<string[]> {
  const archive = join(sb.dir, `${tag}.tar`);
  await sb.run('skopeo', ['copy', `oci:${layout}:${tag}`, `docker-archive:${archive}:scan/${tag}:latest`]);
  const r = await runTool(tool('osv-scanner'), ['scan', 'image', '--archive', '--offline', '--offline-vulnerabilities', '--format', 'json', archive], {
    env: { ...sb.env, OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY: dbDir },
    allowFail: true,
    timeoutMs: 300_000,
  });
  // exit 1 = vulnerabilities found, 0 = none; anything else is a failure of the run
  if (r.code !== 0 && r.code !== 1) throw new Error(`osv-scanner exited ${r.code}: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { results?: Array<{ packages?: Array<{ package: { name: string }; vulnerabilities?: Array<{ id: string }> }> }> };
  const pairs = new Set<string>();
  for (const res of out.results ?? []) for (const p of res.packages ?? []) for (const v of p.vulnerabilities ?? []) pairs.add(`${p.package.name} ${v.id}`);
  return [...pairs].sort();
}

beforeAll(async () => {
  sb = clientSandbox('osv-scanner');
  layout = await buildScanImages(sb);
  records = [];
  for await (const r of readOsvDatabase(FIXTURES)) records.push(r);
  // osv-scanner 2.6's offline layout: <dir>/osv-scalibr/<ecosystem>/all.zip
  dbDir = join(sb.dir, 'osvdb');
  const byEcosystem = new Map<string, string[]>();
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.json'))) {
    const rec = JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as OsvRecord;
    const eco = rec.affected![0].package!.ecosystem!.split(':')[0];
    byEcosystem.set(eco, [...(byEcosystem.get(eco) ?? []), join(FIXTURES, f)]);
  }
  for (const [eco, files] of byEcosystem) {
    mkdirSync(join(dbDir, 'osv-scalibr', eco), { recursive: true });
    await sb.run('python3', ['-m', 'zipfile', '-c', join(dbDir, 'osv-scalibr', eco, 'all.zip'), ...files]);
  }
});

test.each(['debian', 'alpine'])('%s: osv-scanner and the built-in scanner find the same (package, vulnerability) pairs', async (tag) => {
  const ours = await builtinFindings(tag);
  const theirs = await osvScannerFindings(tag);
  expect(ours.length).toBeGreaterThan(0);
  expect(theirs).toEqual(ours);
});
