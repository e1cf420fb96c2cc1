/**
 * Summary of a V8 CPU profile (`node --cpu-prof`): where the registry process spent its time, by function
 * (self time, with the TypeScript file:line through the compiled file's source map) and by package.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Hotspot {
  /** function name and file:line (TypeScript source where a source map knows it) */
  where: string;
  /** self time in ms */
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** idle, plus the profiler's own work */
  idleMs: number;
  functions: Hotspot[];
  /** self time by owner: "registry/…", a node_modules package, "node:internal", "(gc)", "(program)" */
  owners: Hotspot[];
  /** Inclusive time of the registry's own functions (time in them and everything they called). */
  registryInclusive: Hotspot[];
}

const maps = new Map<string, SourceMap | null>();

function sourceMapFor(file: string): SourceMap | null {
  if (maps.has(file)) return maps.get(file)!;
  let map: SourceMap | null = null;
  const mapFile = `${file}.map`;
  if (existsSync(mapFile)) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')));
    } catch {
      map = null;
    }
  }
  maps.set(file, map);
  return map;
}

/** `name file:line` for a frame, relative to the repository root, mapped to the .ts source when possible. */
function describe(cf: CallFrame, repoRoot: string): { where: string; owner: string; ours: boolean } {
  const name = cf.functionName || '(anonymous)';
  if (!cf.url) return { where: name, owner: name.startsWith('(') ? name : '(native)', ours: false };
  if (cf.url.startsWith('node:')) return { where: `${name} ${cf.url}:${cf.lineNumber + 1}`, owner: 'node:internal', ours: false };
  let file = cf.url;
  if (file.startsWith('file://')) file = fileURLToPath(file);
  let line = cf.lineNumber + 1;
  const map = sourceMapFor(file);
  if (map) {
    const e = map.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string; originalLine?: number };
    if (e && e.originalSource) {
      const src = e.originalSource.startsWith('file://') ? fileURLToPath(e.originalSource) : resolve(dirname(file), e.originalSource);
      file = src;
      line = (e.originalLine ?? 0) + 1;
    }
  }
  const rel = relative(repoRoot, file);
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(rel);
  const owner = nm ? nm[1] : rel.split('/').slice(0, 2).join('/');
  return { where: `${name} ${rel}:${line}`, owner, ours: !nm && rel.startsWith('registry/') };
}

export function summarizeProfile(path: string, repoRoot: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const totalUs = p.timeDeltas.reduce((a, b) => a + b, 0);
  const info = new Map(p.nodes.map((n) => [n.id, describe(n.callFrame, repoRoot)]));
  const fn = new Map<string, number>();
  const owner = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  // The profiler's own work (stopping and serialising a profile at a phase cut) is not the registry's.
  const profilerOwn = new Set<number>();
  const mark = (id: number, inside: boolean) => {
    const n = byId.get(id)!;
    const here = inside || n.callFrame.url.includes('cpu-prof-preload');
    if (here) profilerOwn.add(id);
    for (const c of n.children ?? []) mark(c, here);
  };
  mark(p.nodes[0].id, false);
  for (const [id, us] of selfUs) {
    const d = info.get(id)!;
    if (byId.get(id)!.callFrame.functionName === '(idle)' || profilerOwn.has(id)) {
      idle += us;
      continue;
    }
    fn.set(d.where, (fn.get(d.where) ?? 0) + us);
    owner.set(d.owner, (owner.get(d.owner) ?? 0) + us);
    // Charge this sample to every distinct registry frame on its stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = info.get(cur)!;
      if (c.ours && !seen.has(c.where)) {
        seen.add(c.where);
        inclusive.set(c.where, (inclusive.get(c.where) ?? 0) + us);
      }
    }
  }
  const busy = totalUs - idle;
  const rank = (m: Map<string, number>, n: number): Hotspot[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([where, us]) => ({ where, selfMs: us / 1000, share: busy > 0 ? us / busy : 0 }));
  return { totalMs: totalUs / 1000, idleMs: idle / 1000, functions: rank(fn, top), owners: rank(owner, 12), registryInclusive: rank(inclusive, top) };
}

export function formatProfile(s: ProfileSummary): string {
  const lines: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  lines.push(`CPU profile: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${((s.totalMs - s.idleMs) / 1000).toFixed(1)} s busy (shares are of busy time)`);
  lines.push('', 'Self time by function:');
  for (const h of s.functions) lines.push(`  ${pct(h.share).padStart(6)}  ${h.where}`);
  lines.push('', 'Self time by owner:');
  for (const h of s.owners) lines.push(`  ${pct(h.share).padStart(6)}  ${h.where}`);
  lines.push('', "Inclusive time of the registry's functions:");
  for (const h of s.registryInclusive) lines.push(`  ${pct(h.share).padStart(6)}  ${h.where}`);
  return lines.join('\n');
}
