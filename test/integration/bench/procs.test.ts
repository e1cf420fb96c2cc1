/** Bench processes are recorded on disk, so a crashed run's strays die and a live run's survive. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WORK_ROOT, workDir } from '../../setup/paths.js';
import { killRecorded, startProcess } from '../../setup/procs.js';
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
