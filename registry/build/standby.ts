/**
 * The job message a standby builder agent reads from its stdin (agent_main.ts, JOB_FROM_STDIN): one JSON line
 * with the registration JWT and the build's uuid, the two per-build values of the worker environment (the
 * others are the executor's, given at spawn). Nothing else is accepted.
 */
import type { Readable } from 'node:stream';

export interface StandbyJob {
  TOKEN: string;
  BUILD_UUID: string;
}

const MAX_LINE = 64 * 1024;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JWT_RE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

export function jobLine(job: StandbyJob): string {
  return `${JSON.stringify({ TOKEN: job.TOKEN, BUILD_UUID: job.BUILD_UUID })}\n`;
}

/** Parse a job line; throws on anything but {TOKEN: <a JWT>, BUILD_UUID: <a uuid>}. */
export function parseJob(line: string): StandbyJob {
  const j = JSON.parse(line) as Record<string, unknown>;
  if (!j || typeof j !== 'object' || Object.keys(j).sort().join() !== 'BUILD_UUID,TOKEN') throw new Error('a job is {TOKEN, BUILD_UUID}');
  if (typeof j.TOKEN !== 'string' || !JWT_RE.test(j.TOKEN)) throw new Error('TOKEN is not a JWT');
  if (typeof j.BUILD_UUID !== 'string' || !UUID_RE.test(j.BUILD_UUID)) throw new Error('BUILD_UUID is not a uuid');
  return { TOKEN: j.TOKEN, BUILD_UUID: j.BUILD_UUID };
}

/** The first line of `input` as a job; null when the input ends first (or is not a job). */
export function readJob(input: Readable): Promise<StandbyJob | null> {
  return new Promise((resolve) => {
    let buf = '';
    const done = (job: StandbyJob | null) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onEnd);
      input.destroy();
      resolve(job);
    };
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_LINE) done(null);
        return;
      }
      try {
        done(parseJob(buf.slice(0, nl)));
      } catch (err) {
        console.error(`builder: refused job message: ${(err as Error).message}`);
        done(null);
      }
    };
    const onEnd = () => done(null);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onEnd);
  });
}
