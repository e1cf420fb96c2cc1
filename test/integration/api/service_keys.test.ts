/**
 * Service keys as Quay 3.8 serves them (endpoints/api/superuser.py SuperUserServiceKeyManagement,
 * SuperUserServiceKey, SuperUserServiceKeyApproval; endpoints/keyserver/__init__.py; data/model/service_keys.py),
 * against the real registry process on Postgres: the superuser panel's CRUD and approval, a service's own
 * submission / rotation / deletion through /keys, and a preshared `quay` key signing registry tokens.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, signin } from './fixture.js';

let reg: RegistryProcess;
let admin: Api;
let alice: Api;

beforeAll(async () => {
  reg = await startRegistry({ label: 'service-keys', config: await scaleOutConfig({ SUPER_USERS: ['admin'] }) });
  admin = await signin(reg, 'admin', reg.admin.password);
  alice = await signin(reg, 'alice', await createUser(admin, 'alice'));
});

afterAll(async () => {
  await reg?.stop();
});

const inOneDay = () => Math.floor(Date.now() / 1000) + 86_400;

/** A service's own JWT for the key server: issuer = the service, audience = the registry's URL. */
function serviceJwt(key: KeyObject, service: string, kid?: string) {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', ...(kid ? { kid } : {}) })
    .setIssuer(service)
    .setAudience(`http://${reg.hostPort}`)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
}

function keyServer(method: string, path: string, jwt: string | null, body?: unknown) {
  return fetch(`${reg.url}/keys/services/${path}`, {
    method,
    headers: { ...(jwt ? { authorization: `Bearer ${jwt}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const rsa = () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { priv: pair.privateKey, jwk: pair.publicKey.export({ format: 'jwk' }) };
};

test('a superuser creates a preshared key: approved at once, private key answered once, never listed', async () => {
  const created = await admin.post('/superuser/keys', { service: 'quay', name: 'ci signer', expiration: inOneDay(), notes: 'for CI', metadata: { team: 'ci' } });
  expect(created.status).toBe(200);
  expect(Object.keys(created.body).sort()).toEqual(['kid', 'name', 'private_key', 'public_key', 'service']);
  expect(created.body.private_key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
  expect(created.body.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  const kid = created.body.kid as string;

  const got = await admin.get(`/superuser/keys/${kid}`);
  expect(got.status).toBe(200);
  expect(Object.keys(got.body).sort()).toEqual(['approval', 'created_date', 'expiration_date', 'jwk', 'kid', 'metadata', 'name', 'rotation_duration', 'service']);
  expect(got.body).toMatchObject({ kid, name: 'ci signer', service: 'quay', rotation_duration: null, jwk: { kty: 'RSA', kid } });
  expect(got.body.jwk.d).toBeUndefined();
  expect(got.body.metadata).toMatchObject({ team: 'ci', created_by: 'Quay Superuser Panel', creator: 'admin' });
  expect(got.body.created_date).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  expect(got.body.approval).toMatchObject({ approval_type: 'Super User API', notes: 'for CI', approver: { username: 'admin', kind: 'user' } });

  const list = await admin.get('/superuser/keys');
  expect(list.body.keys.map((k: { kid: string }) => k.kid)).toContain(kid);
  expect(JSON.stringify(list.body)).not.toContain('PRIVATE');

  const logs = (await admin.ok('GET', '/superuser/logs')).logs as { kind: string; metadata: Record<string, unknown> }[];
  for (const kind of ['service_key_create', 'service_key_approve']) {
    expect(logs.find((l) => l.kind === kind && l.metadata.kid === kid)?.metadata).toMatchObject({ preshared: true, service: 'quay', name: 'ci signer', auto_approved: true });
  }
});

test("Quay's validation texts: a past expiration, a bad friendly name, an invalid service name; non-superusers are refused", async () => {
  const past = await admin.post('/superuser/keys', { service: 'quay', expiration: 1000 });
  expect(past.status).toBe(400);
  expect(past.body.error_message).toBe('Expiration date cannot be in the past');
  const badName = await admin.post('/superuser/keys', { service: 'quay', name: 'no;semicolons', expiration: null });
  expect(badName.body.error_message).toBe('Invalid service key friendly name: no;semicolons');
  expect((await admin.post('/superuser/keys', { service: 'Bad Service', expiration: null })).status).toBe(400);
  expect((await admin.post('/superuser/keys', { service: 'quay' })).status).toBe(400);
  expect((await alice.get('/superuser/keys')).status).toBe(403);
  expect((await alice.post('/superuser/keys', { service: 'quay', expiration: null })).status).toBe(403);
  expect((await admin.get('/superuser/keys/nope')).status).toBe(404);
  expect((await admin.delete('/superuser/keys/nope')).status).toBe(404);
  expect((await admin.post('/superuser/approvedkeys/nope', {})).status).toBe(404);
});

test('updating a key: name and metadata (service_key_modify), expiration (service_key_extend); deleting it (service_key_delete)', async () => {
  const { kid } = await admin.ok('POST', '/superuser/keys', { service: 'quay', name: 'old', expiration: null });
  const later = inOneDay() + 3600;
  const updated = await admin.put(`/superuser/keys/${kid}`, { name: 'new name', metadata: { extra: 1 }, expiration: later });
  expect(updated.status).toBe(200);
  expect(updated.body).toMatchObject({ name: 'new name', metadata: { extra: 1, created_by: 'Quay Superuser Panel' } });
  expect(new Date(updated.body.expiration_date).getTime()).toBe(later * 1000);
  const pastUpdate = await admin.put(`/superuser/keys/${kid}`, { expiration: 1000 });
  expect(pastUpdate.body.error_message).toBe('Cannot have an expiration date in the past');
  expect((await admin.put(`/superuser/keys/${kid}`, { expiration: null })).body.expiration_date).toBeNull();
  const del = await admin.delete(`/superuser/keys/${kid}`);
  expect(del.status).toBe(204);
  expect((await admin.get(`/superuser/keys/${kid}`)).status).toBe(404);
  const kinds = ((await admin.ok('GET', '/superuser/logs')).logs as { kind: string; metadata: { kid?: string } }[]).filter((l) => l.metadata.kid === kid).map((l) => l.kind);
  expect(kinds).toEqual(expect.arrayContaining(['service_key_modify', 'service_key_extend', 'service_key_delete']));
});

test('a preshared key of the quay service signs registry tokens until it is deleted or expires', async () => {
  const { kid, private_key } = await admin.ok('POST', '/superuser/keys', { service: 'quay', name: 'external signer', expiration: inOneDay() });
  const key = createPrivateKey(private_key);
  const registryToken = () =>
    new SignJWT({ access: [], context: {} })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer('quay')
      .setAudience(reg.hostPort)
      .setSubject('external')
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .sign(key);
  const v2 = async (token: string) => (await fetch(`${reg.url}/v2/`, { headers: { authorization: `Bearer ${token}` } })).status;
  expect(await v2(await registryToken())).toBe(200);
  // A key of another service signs nothing for the registry.
  const other = await admin.ok('POST', '/superuser/keys', { service: 'clair', expiration: null });
  const clairToken = await new SignJWT({ access: [] })
    .setProtectedHeader({ alg: 'RS256', kid: other.kid })
    .setIssuer('quay')
    .setAudience(reg.hostPort)
    .setExpirationTime('5m')
    .sign(createPrivateKey(other.private_key));
  expect(await v2(clairToken)).toBe(401);
  await admin.ok('DELETE', `/superuser/keys/${kid}`);
  expect(await v2(await registryToken())).toBe(401);
});

test('the approval flow: a service submits its key (202, unapproved, superusers notified), a superuser approves it, the service rotates and deletes it', async () => {
  const first = rsa();
  const anon = async (path: string) => fetch(`${reg.url}/keys/services/${path}`);

  // Not self-signed by the submitted key: refused.
  const stranger = rsa();
  expect((await keyServer('PUT', 'secscan/keys/k1', await serviceJwt(stranger.priv, 'secscan'), first.jwk)).status).toBe(400);
  expect((await keyServer('PUT', 'secscan/keys/k1', null, first.jwk)).status).toBe(400);
  // Wrong issuer.
  expect((await keyServer('PUT', 'secscan/keys/k1', await serviceJwt(first.priv, 'quay'), first.jwk)).status).toBe(400);

  const submitted = await keyServer('PUT', `secscan/keys/k1?expiration=${inOneDay()}`, await serviceJwt(first.priv, 'secscan'), first.jwk);
  expect(submitted.status).toBe(202);
  expect((await anon('secscan/keys/k1')).status).toBe(409);
  expect(((await (await anon('secscan/keys')).json()) as { keys: unknown[] }).keys).toEqual([]);
  const pending = await admin.get('/superuser/keys/k1');
  expect(pending.body).toMatchObject({ kid: 'k1', service: 'secscan', name: '', approval: null });
  const notes = (await admin.ok('GET', '/user/notifications')).notifications as { kind: string; metadata: { kid: string } }[];
  expect(notes.find((n) => n.kind === 'service_key_submitted' && n.metadata.kid === 'k1')).toBeDefined();
  expect((await alice.ok('GET', '/user/notifications')).notifications.filter((n: { kind: string }) => n.kind === 'service_key_submitted')).toEqual([]);

  const approved = await admin.post('/superuser/approvedkeys/k1', { notes: 'looks right' });
  expect(approved.status).toBe(201);
  expect(approved.body).toBeNull();
  // Approving again changes nothing and is no error.
  expect((await admin.post('/superuser/approvedkeys/k1', {})).status).toBe(201);
  expect((await admin.get('/superuser/keys/k1')).body.approval).toMatchObject({ approval_type: 'Super User API', notes: 'looks right', approver: { username: 'admin' } });
  const published = await anon('secscan/keys/k1');
  expect(published.status).toBe(200);
  expect(Number(/max-age=(\d+)/.exec(published.headers.get('cache-control') ?? '')?.[1])).toBeGreaterThan(86_000);
  expect(await published.json()).toEqual({ ...first.jwk, kid: 'k1' });
  expect(((await (await anon('secscan/keys')).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual(['k1']);
  expect(((await admin.ok('GET', '/user/notifications')).notifications as { kind: string; metadata: { kid: string } }[]).find((n) => n.metadata.kid === 'k1')).toBeUndefined();

  // Rotation: the approved key signs its successor, which keeps the approval.
  const second = rsa();
  const rotated = await keyServer('PUT', 'secscan/keys/k2', await serviceJwt(first.priv, 'secscan', 'k1'), second.jwk);
  expect(rotated.status).toBe(200);
  expect((await admin.get('/superuser/keys/k1')).status).toBe(404);
  expect((await admin.get('/superuser/keys/k2')).body).toMatchObject({
    service: 'secscan',
    approval: { approval_type: 'Super User API' },
    metadata: { created_by: 'Key Rotation' },
  });
  // An unapproved key cannot rotate itself into approval.
  const third = rsa();
  expect((await keyServer('PUT', 'secscan/keys/k3', await serviceJwt(third.priv, 'secscan'), third.jwk)).status).toBe(202);
  const fourth = rsa();
  expect((await keyServer('PUT', 'secscan/keys/k4', await serviceJwt(third.priv, 'secscan', 'k3'), fourth.jwk)).status).toBe(403);

  const deleted = await keyServer('DELETE', 'secscan/keys/k2', await serviceJwt(second.priv, 'secscan', 'k2'));
  expect(deleted.status).toBe(204);
  expect((await anon('secscan/keys/k2')).status).toBe(404);
  const kinds = ((await admin.ok('GET', '/superuser/logs')).logs as { kind: string; metadata: { kid?: string; user_agent?: string } }[]).filter((l) =>
    ['k1', 'k2'].includes(l.metadata.kid ?? ''),
  );
  expect(kinds.map((l) => l.kind)).toEqual(expect.arrayContaining(['service_key_create', 'service_key_approve', 'service_key_rotate', 'service_key_delete']));
});
