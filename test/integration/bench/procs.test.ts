/**
 * Bench processes are recorded on disk, so a crashed run's strays die and a live run's survive; servers get
 * ports no outgoing connection can hold.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { WORK_ROOT, workDir } from '../../setup/paths.js';
import { freePort, killRecorded, startProcess } from '../../setup/procs.js';
import { tool } from '../../setup/tools.js';

function startSleep(owner: string) {
  const saved = process.env.QUAY_TS_RUN_PID;
  process.env.QUAY_TS_RUN_PID = owner;
  try {
    return startProcess({ name: 'sleep', bin: tool('sleep'), args: ['300'], logFile: join(workDir('procs'), 'sleep.log') });
  } finally {
    process.env.QUAY_TS_RUN_PID = saved;
  }
}

test('killRecorded() kills processes of an ended run and spares those of a live run', async () => {
  const gone = spawnSync('true').pid!; // a pid whose process has ended
  const orphan = startSleep(String(gone));
  const mine = startSleep(process.env.QUAY_TS_RUN_PID ?? String(process.pid));
  expect(existsSync(join(WORK_ROOT, 'pids', `${orphan.pid}.json`))).toBe(true);
  try {
    const killed = await killRecorded();
    expect(killed).toContain(`sleep (pid ${orphan.pid})`);
    expect(killed).not.toContain(`sleep (pid ${mine.pid})`);
    expect(await orphan.exited).toBe('SIGKILL');
    expect(existsSync(join(WORK_ROOT, 'pids', `${orphan.pid}.json`))).toBe(false);
    expect(mine.running()).toBe(true);
  } finally {
    await mine.stop();
  }
  expect(mine.running()).toBe(false);
  expect(existsSync(join(WORK_ROOT, 'pids', `${mine.pid}.json`))).toBe(false);
});

test("freePort() picks distinct bindable ports below the kernel's ephemeral range", async () => {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) {
    expect(port).toBeGreaterThan(10_080);
    expect(port).toBeLessThan(low);
  }
  expect(new Set(ports).size).toBeGreaterThan(15);
  const srv = createServer();
  await new Promise<void>((res, rej) => srv.once('error', rej).listen(ports[0], '127.0.0.1', () => res()));
  await new Promise((res) => srv.close(res));
});
