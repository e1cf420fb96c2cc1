/**
 * Stale service keys are removed as Quay's data/model/service_keys.py `_gc_expired` removes them: a key expired
 * for longer than EXPIRED_SERVICE_KEY_TTL_SEC, and a key still unapproved UNAPPROVED_SERVICE_KEY_TTL_SEC after its
 * submission (with its approval notification). Approved keys without expiration, and approved keys expired for
 * less than the window, stay. Real registry process on Postgres, keys submitted through the key server.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, signin } from './fixture.js';

let reg: RegistryProcess;
let admin: Api;

beforeAll(async () => {
  reg = await startRegistry({
    label: 'service-key-gc',
    config: await scaleOutConfig({ SUPER_USERS: ['admin'], UNAPPROVED_SERVICE_KEY_TTL_SEC: 8, EXPIRED_SERVICE_KEY_TTL_SEC: 2 }),
  });
  admin = await signin(reg, 'admin', reg.admin.password);
});

afterAll(async () => {
  await reg?.stop();
});

const rsa = () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { priv: pair.privateKey, jwk: pair.publicKey.export({ format: 'jwk' }) };
};

async function submit(service: string, kid: string, key: { priv: KeyObject; jwk: unknown }, expiration?: number): Promise<void> {
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256' })
    .setIssuer(service)
    .setAudience(`http://${reg.hostPort}`)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key.priv);
  const res = await fetch(`${reg.url}/keys/services/${service}/keys/${kid}${expiration ? `?expiration=${expiration}` : ''}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
    body: JSON.stringify(key.jwk),
  });
  expect(res.status).toBe(202);
}

const kids = async () => ((await admin.ok('GET', '/superuser/keys')).keys as { kid: string }[]).map((k) => k.kid);
const pendingNotes = async () =>
  ((await admin.ok('GET', '/user/notifications')).notifications as { kind: string; metadata: { kid: string } }[])
    .filter((n) => n.kind === 'service_key_submitted')
    .map((n) => n.metadata.kid);

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('unapproved keys past UNAPPROVED_SERVICE_KEY_TTL_SEC and keys expired past EXPIRED_SERVICE_KEY_TTL_SEC are removed; the rest stay', async () => {
  const now = Math.floor(Date.now() / 1000);
  // Approved, no expiration: kept forever.
  await submit('gcsvc', 'kept', rsa());
  expect((await admin.post('/superuser/approvedkeys/kept', {})).status).toBe(201);
  // Approved, expires in 2 s: removed 2 s after that (EXPIRED_SERVICE_KEY_TTL_SEC).
  await submit('gcsvc', 'expiring', rsa(), now + 2);
  expect((await admin.post('/superuser/approvedkeys/expiring', {})).status).toBe(201);
  // Approved, expires in an hour: kept.
  await submit('gcsvc', 'later', rsa(), now + 3600);
  expect((await admin.post('/superuser/approvedkeys/later', {})).status).toBe(201);
  // Never approved: removed 8 s after its submission, with the superuser's approval notification.
  await submit('gcsvc', 'pending', rsa());
  expect(await pendingNotes()).toContain('pending');

  // (The approvals above found each key; listing them now could race the collection under load.)
  const left = await until('the stale keys to be removed', kids, (k) => !k.includes('expiring') && !k.includes('pending'));
  expect(left).toEqual(expect.arrayContaining(['kept', 'later']));
  expect(await pendingNotes()).not.toContain('pending');
  // Quay writes no usage log for collected keys (nobody deleted them).
  const logs = (await admin.ok('GET', '/superuser/logs')).logs as { kind: string; metadata: { kid?: string } }[];
  expect(logs.filter((l) => l.kind === 'service_key_delete' && ['expiring', 'pending'].includes(l.metadata.kid ?? ''))).toEqual([]);
});
