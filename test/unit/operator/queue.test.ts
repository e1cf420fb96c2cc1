import { WorkQueue } from '../../../operator/queue.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('work queue', () => {
  test('coalesces adds, never runs one key twice at once, re-runs a key added while it ran', async () => {
    const runs: string[] = [];
    let concurrent = 0;
    let maxConcurrentA = 0;
    const q = new WorkQueue(
      async (key) => {
        if (key === 'a') maxConcurrentA = Math.max(maxConcurrentA, ++concurrent);
        runs.push(key);
        await tick(20);
        if (key === 'a') concurrent--;
        return undefined;
      },
      4,
      () => 0,
    );
    q.add('a');
    q.add('a');
    q.add('b');
    await tick(5);
    q.add('a'); // while running
    q.add('a');
    await tick(80);
    expect(runs.filter((k) => k === 'a')).toHaveLength(2);
    expect(runs.filter((k) => k === 'b')).toHaveLength(1);
    expect(maxConcurrentA).toBe(1);
    q.stop();
  });

  test('requeues after the delay the worker returns, and after errors', async () => {
    const runs: number[] = [];
    const q = new WorkQueue(
      async () => {
        runs.push(Date.now());
        if (runs.length === 1) return 30;
        if (runs.length === 2) throw new Error('boom');
        return undefined;
      },
      1,
      () => 10,
    );
    q.add('k');
    await tick(120);
    expect(runs).toHaveLength(3);
    expect(runs[1] - runs[0]).toBeGreaterThanOrEqual(25);
    await tick(60); // the third run returned undefined: nothing more is scheduled
    expect(runs).toHaveLength(3);
    q.stop();
  });
});
