/**
 * Coverage of Quay 3.8's REST API: the endpoints listed from Quay's source (quay38_endpoints.json) that this
 * registry serves, public and internal, by area (Quay's endpoints/api/<area>.py), and those the user guide's
 * chapters 14 and 17 call. "Served" means the route is in this registry's /api/v1/discovery document (whose
 * repository paths are written as Quay's, `{repository}`), or is one of the routes the document hides.
 *
 *   node dist/test/compat/coverage.js --url http://127.0.0.1:8080   (a running registry; prints the table)
 */
import { readFileSync } from 'node:fs';

export interface QuayEndpoint {
  method: string;
  path: string;
  operationId: string;
  file: string;
  class: string;
  internal: boolean;
  conditions: string[];
}

export interface QuayApiList {
  endpoints: QuayEndpoint[];
  guideEndpoints: { method: string; path: string; chapter: number }[];
}

export const QUAY_API: QuayApiList = JSON.parse(readFileSync(new URL('../../../test/compat/quay38_endpoints.json', import.meta.url), 'utf8')) as QuayApiList;

/** Routes that answer but are left out of the document, as Quay leaves out discovery itself. */
const HIDDEN_ROUTES = ['GET /api/v1/discovery', 'POST /api/v1/user/initialize', 'GET /api/v1/superuser/registrystatus'];

/** `METHOD /path` with every path parameter written `{}`: Quay and this registry name some differently. */
const key = (method: string, path: string) => `${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '{}')}`;

/** The routes a discovery document lists, plus the hidden ones. */
export function servedRoutes(discovery: { paths: Record<string, Record<string, unknown>> }): Set<string> {
  const out = new Set(HIDDEN_ROUTES.map((r) => key(...(r.split(' ') as [string, string]))));
  for (const [path, ops] of Object.entries(discovery.paths)) for (const m of Object.keys(ops)) out.add(key(m, path));
  return out;
}

export interface AreaRow {
  area: string;
  publicServed: number;
  publicTotal: number;
  internalServed: number;
  internalTotal: number;
}

export interface Coverage {
  areas: AreaRow[];
  total: AreaRow;
  missingPublic: string[];
  guideServed: number;
  guideTotal: number;
  missingGuide: string[];
}

export function coverage(served: Set<string>, api: QuayApiList = QUAY_API): Coverage {
  const rows = new Map<string, AreaRow>();
  const total: AreaRow = { area: 'total', publicServed: 0, publicTotal: 0, internalServed: 0, internalTotal: 0 };
  const missingPublic: string[] = [];
  for (const e of api.endpoints) {
    const area = e.file.replace(/^endpoints\/api\//, '').replace(/\.py$/, '');
    const row = rows.get(area) ?? { area, publicServed: 0, publicTotal: 0, internalServed: 0, internalTotal: 0 };
    rows.set(area, row);
    const ok = served.has(key(e.method, e.path));
    for (const r of [row, total]) {
      if (e.internal) {
        r.internalTotal++;
        if (ok) r.internalServed++;
      } else {
        r.publicTotal++;
        if (ok) r.publicServed++;
      }
    }
    if (!ok && !e.internal) missingPublic.push(`${e.method} ${e.path} (${e.operationId})`);
  }
  const missingGuide = api.guideEndpoints.filter((g) => !served.has(key(g.method, g.path))).map((g) => `${g.method} ${g.path} (chapter ${g.chapter})`);
  return {
    areas: [...rows.values()].sort((a, b) => a.area.localeCompare(b.area)),
    total,
    missingPublic,
    guideServed: api.guideEndpoints.length - missingGuide.length,
    guideTotal: api.guideEndpoints.length,
    missingGuide,
  };
}

/** A concrete request path as a pattern of Quay's: `{repository}` is `namespace/name`, other parameters one segment. */
function pathPattern(path: string): RegExp {
  const re = path
    .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
    .replace(/\{repository\}/g, '[^/?]+/[^/?]+')
    .replace(/\{[^}]+\}/g, '[^/?]+');
  return new RegExp(`^${re}(\\?.*)?$`);
}

/** The Quay endpoint a request (`GET /api/v1/repository/ns/name?x=1`) calls, or undefined. */
export function endpointOf(method: string, path: string, api: QuayApiList = QUAY_API): QuayEndpoint | undefined {
  const candidates = api.endpoints.filter((e) => e.method === method.toUpperCase() && pathPattern(e.path).test(path));
  // The most literal path wins (`/repository/{repository}/tag/` over a longer `{repository}` match).
  return candidates.sort((a, b) => b.path.replace(/\{[^}]+\}/g, '').length - a.path.replace(/\{[^}]+\}/g, '').length)[0];
}

/** How many served Quay endpoints the corpus's pairs call, and the pairs that call none (a wrong path or method). */
export function corpusCoverage(
  pairs: { request: { method: string; path: string } }[],
  served: Set<string>,
  api: QuayApiList = QUAY_API,
): { pairs: number; covered: number; served: number; unknown: string[]; missing: string[] } {
  const hit = new Set<string>();
  const unknown: string[] = [];
  for (const p of pairs) {
    const e = endpointOf(p.request.method, p.request.path, api);
    if (e && served.has(key(e.method, e.path))) hit.add(key(e.method, e.path));
    else unknown.push(`${p.request.method} ${p.request.path}`);
  }
  const servedEndpoints = api.endpoints.filter((e) => served.has(key(e.method, e.path)));
  const missing = servedEndpoints.filter((e) => !hit.has(key(e.method, e.path))).map((e) => `${e.method} ${e.path} (${e.file} ${e.class})`);
  return { pairs: pairs.length, covered: hit.size, served: servedEndpoints.length, unknown, missing };
}

const pct = (a: number, b: number) => (b === 0 ? '-' : `${Math.round((100 * a) / b)} %`);

/** The Markdown table the README shows. */
export function coverageTable(c: Coverage): string {
  const line = (r: AreaRow) =>
    `| ${r.area} | ${r.publicServed} / ${r.publicTotal} | ${pct(r.publicServed, r.publicTotal)} | ${r.internalServed} / ${r.internalTotal} | ${pct(r.internalServed, r.internalTotal)} |`;
  return [
    '| area (endpoints/api/) | public served | % | internal served | % |',
    '|---|---|---|---|---|',
    ...c.areas.map(line),
    line({ ...c.total, area: '**total**' }),
    '',
    `User guide chapters 14 and 17: ${c.guideServed} / ${c.guideTotal} endpoints served.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--url');
  const url = at > 0 ? process.argv[at + 1] : process.env.REGISTRY_URL;
  if (!url) {
    process.stderr.write('usage: node dist/test/compat/coverage.js --url http://HOST:PORT\n');
    process.exit(2);
  }
  const res = await fetch(`${url.replace(/\/$/, '')}/api/v1/discovery`);
  if (!res.ok) throw new Error(`GET /api/v1/discovery answered ${res.status}`);
  const c = coverage(servedRoutes((await res.json()) as { paths: Record<string, Record<string, unknown>> }));
  process.stdout.write(`${coverageTable(c)}\n\nPublic endpoints not served:\n${c.missingPublic.map((m) => `  ${m}`).join('\n')}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
