import { spawnSync } from 'node:child_process';
import { REGISTRY_NODE_FLAGS, REGISTRY_V8_RUNTIME_FLAGS } from '../../config/node.js';

// v8.setFlagsFromString ignores a flag V8 does not know; node's command line refuses it ("bad option"). A flag
// renamed or dropped by a newer Node would otherwise stop working without anyone noticing.
describe('the registry V8 flags', () => {
  test.each([...REGISTRY_NODE_FLAGS, ...REGISTRY_V8_RUNTIME_FLAGS])('%s is a flag this Node accepts', (flag) => {
    const r = spawnSync(process.execPath, [flag, '-e', ''], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('an unknown flag is refused (the check above can fail)', () => {
    const r = spawnSync(process.execPath, ['--heap-growing-percentage=50', '-e', ''], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('bad option');
  });
});
