/**
 * Finding a build's worker processes from /proc: its builder agent (the pid the build log names: a standby
 * agent gets its build after it started, so its environment does not name the build) and whatever runs with
 * the build's uuid in its environment (buildah, git).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Runtime } from '../../../registry/runtime.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of the agent running the build, from its log line "builder agent: process N on host". */
export async function agentPidOf(rt: Runtime, uuid: string, timeoutMs = 60_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const logs = (await rt.builds.readBuildLogs(uuid, 0))?.logs ?? [];
    const m = logs.map((l) => /^builder agent: process (\d+) on /.exec(l.message)).find(Boolean);
    if (m) return Number(m[1]);
    if (Date.now() > end) throw new Error(`the build ${uuid} named no agent within ${timeoutMs} ms: ${logs.map((l) => l.message).join(' | ')}`);
    await sleep(100);
  }
}

/** Live processes of the build: its agent and the processes whose environment names the build. */
export function workerPids(uuid: string, agentPid: number): number[] {
  const pids = alive(agentPid) ? [agentPid] : [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === agentPid) continue;
    try {
      if (readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(`BUILD_UUID=${uuid}`)) pids.push(Number(p));
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

/** Live (not zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // After the command name (in parentheses, may hold spaces): state ppid pgrp.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}
