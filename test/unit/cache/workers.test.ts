import { availableParallelism } from 'node:os';
import { workerCount } from '../../../registry/cluster.js';

describe('serve --workers', () => {
  test('defaults to the CPUs with an external database and to one with the embedded one', () => {
    expect(workerCount(undefined, true)).toEqual({ count: availableParallelism() });
    expect(workerCount(undefined, false)).toEqual({ count: 1 });
    expect(workerCount('3', true)).toEqual({ count: 3 });
    expect(workerCount('1', false)).toEqual({ count: 1 });
  });

  test('refuses more than one process on the embedded database, and anything but a positive integer', () => {
    expect(workerCount('2', false)).toEqual({ error: expect.stringMatching(/need an external database/) });
    for (const bad of ['0', '-1', 'two', '1.5', '']) expect(workerCount(bad, true)).toEqual({ error: expect.stringMatching(/positive integer/) });
  });
});
