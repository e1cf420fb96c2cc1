/**
 * Loaded into the registry process with `NODE_OPTIONS=--import <this file>` when the benchmark profiles it
 * (NODE_OPTIONS refuses --cpu-prof). Starts the V8 CPU profiler at once; on SIGUSR2 writes the profile so far
 * to $BENCH_CPU_PROF_DIR/<label>-<n>.cpuprofile (label from the file BENCH_CPU_PROF_DIR/label, if present)
 * and starts a new one, so the benchmark can cut one profile per phase.
 */
import { Session } from 'node:inspector';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((res, rej) => session.post(method, params ?? {}, (err, result) => (err ? rej(err) : res(result))));
  let n = 0;
  const start = async () => {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
  };
  void start();
  process.on('SIGUSR2', () => {
    void (async () => {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      const labelFile = join(dir, 'label');
      const label = existsSync(labelFile) ? readFileSync(labelFile, 'utf8').trim() : 'profile';
      writeFileSync(join(dir, `${String(++n).padStart(2, '0')}-${label}.cpuprofile`), JSON.stringify(profile));
      writeFileSync(join(dir, `${String(n).padStart(2, '0')}-${label}.done`), '');
      await post('Profiler.start');
    })();
  });
}
