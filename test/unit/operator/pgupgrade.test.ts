import { pgMajor, upgradeState } from '../../../operator/pgupgrade.js';

test('the Postgres major an image name carries', () => {
  expect(pgMajor('quay.io/sclorg/postgresql-13-c9s:latest')).toBe(13);
  expect(pgMajor('centos/postgresql-10-centos7@sha256:abc')).toBe(10);
  expect(pgMajor('registry.redhat.io/rhel8/postgresql-15')).toBe(15);
  expect(pgMajor('postgres:16')).toBeUndefined();
  expect(pgMajor('example.test/postgresql-13-mirror/postgres:latest')).toBe(13);
});

test('upgrade state from the live image, the wanted image and the copy Job', () => {
  const v12 = 'quay.io/sclorg/postgresql-12-c9s:latest';
  const v13 = 'quay.io/sclorg/postgresql-13-c9s:latest';
  expect(upgradeState(undefined, v13, undefined, undefined)).toBeUndefined();
  expect(upgradeState(v13, v13, undefined, undefined)).toBeUndefined();
  expect(upgradeState('my/postgres:latest', v13, undefined, undefined)).toBeUndefined();
  expect(upgradeState(v13, v12, undefined, undefined)).toBe('downgrade');
  expect(upgradeState(v12, v13, undefined, undefined)).toEqual({ fromImage: v12, fromMajor: 12, toMajor: 13, state: 'pending' });
  // A PREVIOUS image of another major is not the one running: the live image is kept.
  expect(upgradeState(v12, v13, 'mirror/postgresql-11:x', { status: {} })).toMatchObject({ fromImage: v12, state: 'running' });
  expect(upgradeState(v12, v13, 'mirror/postgresql-12:x', { status: { succeeded: 1 } })).toMatchObject({ fromImage: 'mirror/postgresql-12:x', state: 'succeeded' });
  expect(upgradeState(v12, v13, undefined, { status: { conditions: [{ type: 'Failed', status: 'True', message: 'boom' }] } })).toMatchObject({ state: 'failed', message: 'boom' });
  expect(upgradeState(v12, v13, undefined, { metadata: { deletionTimestamp: 'x' }, status: {} })).toMatchObject({ state: 'pending' });
});
