/**
 * Credential scoping of the upstream client (reference §5 item 6) against real HTTP peers on loopback: a
 * registry answering 401 with several challenges (`Bearer realm=…, Basic realm=…`) and a token realm that
 * records what it was sent. Names resolve to loopback through the client's lookup hook, so the realm can
 * live on the upstream's registrable domain or on another one under the same public suffix (`co.uk`).
 */
import http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { UpstreamClient, parseChallenges } from '../../../registry/proxy/upstream.js';

const loopback: LookupFunction = (_hostname, options, callback) => {
  if (options.all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

let registry: http.Server;
let realm: http.Server;
let realmHost = '';
/** Authorization headers the token realm received, in order ('' for none). */
const realmSaw: string[] = [];

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

let registryPort = 0;
let realmPort = 0;

beforeAll(async () => {
  realm = http.createServer((req, res) => {
    realmSaw.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'issued', expires_in: 300 }));
  });
  registry = http.createServer((req, res) => {
    if (req.headers.authorization === 'Bearer issued') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-content-digest': `sha256:${'b'.repeat(64)}` }).end('{}');
      return;
    }
    res
      .writeHead(401, { 'www-authenticate': `Bearer realm="http://${realmHost}:${realmPort}/token",service="registry.example.co.uk", Basic realm="registry"` })
      .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
  });
  realmPort = await listen(realm);
  registryPort = await listen(registry);
});

afterAll(async () => {
  await new Promise((r) => registry.close(r));
  await new Promise((r) => realm.close(r));
});

function client(): UpstreamClient {
  return new UpstreamClient({
    host: `registry.example.co.uk:${registryPort}`,
    insecure: true,
    username: 'puller',
    password: 's3cret',
    guard: { check: async () => undefined, lookup: loopback },
  });
}

test('several challenges in one WWW-Authenticate are all parsed', () => {
  expect(parseChallenges('Bearer realm="https://auth.example.com/token",service="reg", Basic realm="r"')).toEqual([
    { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'reg' } },
    { scheme: 'basic', params: { realm: 'r' } },
  ]);
});

test('a token realm on the upstream’s registrable domain gets the credentials', async () => {
  realmHost = 'auth.example.co.uk';
  realmSaw.length = 0;
  const c = client();
  try {
    await c.headManifest('team/app', 'v1');
  } finally {
    c.close();
  }
  expect(realmSaw).toEqual([`Basic ${Buffer.from('puller:s3cret').toString('base64')}`]);
});

test('a token realm on another registrable domain under the same public suffix gets no credentials', async () => {
  realmHost = 'auth.evil.co.uk';
  realmSaw.length = 0;
  const c = client();
  try {
    await c.headManifest('team/app', 'v1');
  } finally {
    c.close();
  }
  expect(realmSaw).toEqual(['']);
});
