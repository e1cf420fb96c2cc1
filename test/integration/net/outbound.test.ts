/**
 * The SSRF guard with real sockets: refusals at creation and at connect time (including a name whose second
 * DNS answer is a private address), the allow list by CIDR and by host name, the webhook black list, no
 * redirects followed, timeouts, the response cap, streaming bodies, and a client certificate checked by a
 * real HTTPS server.
 */
import { join } from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Outbound, OutboundError, OutboundRefused, isBlockedAddress } from '../../../registry/net/outbound.js';
import { makeTestPki, type TestPki } from '../../helpers/pki.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { workDir } from '../../setup/paths.js';

describe('outbound SSRF guard', () => {
  let rx: Receiver;
  let pki: TestPki;
  beforeAll(async () => {
    rx = await startReceiver();
    pki = makeTestPki(join(workDir('outbound'), 'pki'));
  });
  afterAll(async () => {
    await rx.close();
  });

  test('address ranges', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '224.0.0.1',
    ]) {
      expect([a, isBlockedAddress(a)]).toEqual([a, true]);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect([a, isBlockedAddress(a)]).toEqual([a, false]);
  });

  test('refused at creation without an allow list', async () => {
    const out = new Outbound({});
    const refused = async (url: string, text: RegExp, resolveDns = false) => {
      await expect(out.checkUrl(url, 'webhook', resolveDns)).rejects.toThrow(text);
      await expect(out.checkUrl(url, 'webhook', resolveDns)).rejects.toBeInstanceOf(OutboundRefused);
    };
    await refused('http://169.254.169.254/latest/meta-data/', /Address 169.254.169.254 is not allowed/);
    await refused('http://127.0.0.1:80/', /not allowed/);
    await refused('http://[::1]/', /not allowed/);
    await refused('http://[::ffff:127.0.0.1]/', /not allowed/);
    await refused('http://localhost/', /Host 'localhost' is not allowed/);
    await refused('http://metadata.google.internal/', /not allowed/);
    await refused('http://10.0.0.1/', /not allowed/);
    await refused('file:///etc/passwd', /Invalid URL scheme 'file': only HTTP and HTTPS are allowed/);
    await refused('gopher://example.com/', /Invalid URL scheme 'gopher'/);
    await refused('http://user:pw@example.com/', /credentials/);
    await refused('not a url', /Invalid URL/);
    // /etc/hosts maps this machine's name to loopback: a DNS name resolving to a private address.
    await refused('http://vm/', /resolves to 127.0.0.1, which is not allowed/, true);
    // Without DNS the stored-value check lets a name pass; the connect-time check below refuses it.
    await expect(out.checkUrl('http://vm/', 'webhook')).resolves.toBeInstanceOf(URL);
  });

  test('refused at connect time: nothing reaches the receiver', async () => {
    const out = new Outbound({});
    const before = rx.received.length;
    await expect(out.request(rx.url, { purpose: 'webhook' })).rejects.toBeInstanceOf(OutboundRefused);
    await expect(out.request(`http://vm:${rx.port}/`, { purpose: 'webhook' })).rejects.toThrow(/resolves to 127.0.0.1/);
    expect(rx.received.length).toBe(before);
    out.close();
  });

  test('a name that resolves to a public address at creation and a private one at connect is refused at connect', async () => {
    let calls = 0;
    const out = new Outbound({}, async () => (calls++ === 0 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]));
    await expect(out.checkUrl(`http://rebind.test:${rx.port}/`, 'webhook', true)).resolves.toBeInstanceOf(URL);
    const before = rx.received.length;
    await expect(out.request(`http://rebind.test:${rx.port}/`, { purpose: 'webhook' })).rejects.toThrow(/resolves to 127.0.0.1, which is not allowed/);
    expect(rx.received.length).toBe(before);
  });

  test('connects to the checked address, not a second lookup', async () => {
    // The name resolves to 127.0.0.1 (allowed by CIDR); the socket must go there even though the system resolver does not know the name.
    const out = new Outbound({ SSRF_ALLOWED_HOSTS: ['127.0.0.0/8'] }, async () => [{ address: '127.0.0.1', family: 4 }]);
    const res = await out.request(`http://no-such-name.invalid:${rx.port}/hello`, { purpose: 'webhook', method: 'POST', json: { a: 1 } });
    expect(res.status).toBe(200);
    expect(res.address).toBe('127.0.0.1');
    await res.text();
    const last = rx.received[rx.received.length - 1];
    expect(last.path).toBe('/hello');
    expect(JSON.parse(last.body)).toEqual({ a: 1 });
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers.host).toBe(`no-such-name.invalid:${rx.port}`);
    out.close();
  });

  test('SSRF_ALLOWED_HOSTS by CIDR and by host name; WEBHOOK_HOSTNAME_BLACKLIST wins for notifications only', async () => {
    const byCidr = new Outbound({ SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'] });
    expect((await byCidr.request(rx.url, { purpose: 'webhook' })).status).toBe(200);
    expect((await byCidr.request(`http://vm:${rx.port}/`, { purpose: 'callback' })).status).toBe(200);
    await expect(byCidr.request('http://127.0.0.2:1/', { purpose: 'webhook' })).rejects.toBeInstanceOf(OutboundRefused);
    byCidr.close();
    const byName = new Outbound({ SSRF_ALLOWED_HOSTS: ['vm'] });
    expect((await byName.request(`http://vm:${rx.port}/`, { purpose: 'upstream' })).status).toBe(200);
    await expect(byName.request(rx.url, { purpose: 'upstream' })).rejects.toBeInstanceOf(OutboundRefused);
    byName.close();
    const black = new Outbound({ SSRF_ALLOWED_HOSTS: ['127.0.0.1'], WEBHOOK_HOSTNAME_BLACKLIST: ['127.0.0.1'] });
    await expect(black.checkUrl(rx.url, 'webhook')).rejects.toThrow(/Host '127.0.0.1' is not allowed/);
    await expect(black.request(rx.url, { purpose: 'slack' })).rejects.toBeInstanceOf(OutboundRefused);
    expect((await black.request(rx.url, { purpose: 'upstream' })).status).toBe(200);
    black.close();
  });

  test('redirects are returned, not followed (also to a metadata address)', async () => {
    const target = await startReceiver({ host: '127.0.0.2' });
    try {
      const out = new Outbound({ SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'] });
      for (const location of [`${target.url}/steal`, 'http://169.254.169.254/latest/meta-data/']) {
        rx.mode = { kind: 'redirect', location };
        const res = await out.request(rx.url, { purpose: 'webhook', method: 'POST', json: {} });
        expect(res.status).toBe(302);
        expect(res.headers.location).toBe(location);
        res.discard();
      }
      expect(target.received.length).toBe(0);
      out.close();
    } finally {
      rx.mode = { kind: 'ok' };
      await target.close();
    }
  });

  test('timeout while waiting for the answer; the response cap; streaming bodies both ways', async () => {
    const out = new Outbound({ SSRF_ALLOWED_HOSTS: ['127.0.0.1'], NOTIFICATION_SEND_TIMEOUT: 0.5 });
    rx.mode = { kind: 'hang' };
    const t0 = Date.now();
    const err = await out.request(rx.url, { purpose: 'webhook', method: 'POST', json: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundError);
    expect((err as OutboundError).code).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(3000);
    rx.mode = { kind: 'ok' };

    const big = http.createServer((req, res) => {
      if (req.url === '/echo') {
        res.writeHead(200);
        req.pipe(res);
        return;
      }
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      const pump = () => {
        while (sent < 4 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    const port = (big.address() as AddressInfo).port;
    try {
      const capped = await out.request(`http://127.0.0.1:${port}/`, { purpose: 'webhook', maxResponseBytes: 1024 * 1024 });
      await expect(capped.buffer()).rejects.toThrow(/exceeds 1048576 bytes/);
      const whole = await out.fetch(`http://127.0.0.1:${port}/`, { purpose: 'upstream', maxResponseBytes: Infinity });
      expect(whole.status).toBe(200);
      let n = 0;
      for await (const c of whole.body as unknown as AsyncIterable<Uint8Array>) n += c.length;
      expect(n).toBe(4 * 1024 * 1024);
      const echoed = await out.request(`http://127.0.0.1:${port}/echo`, { purpose: 'upstream', method: 'PUT', body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]) });
      expect(await echoed.text()).toBe('abcd');
    } finally {
      out.close();
      big.closeAllConnections();
      await new Promise<void>((r) => big.close(() => r()));
    }
  });

  test('https with a client certificate the receiver verifies; without one the handshake fails', async () => {
    const tlsRx = await startReceiver({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true } });
    try {
      const out = new Outbound({ SSRF_ALLOWED_HOSTS: ['127.0.0.1'] });
      const res = await out.request(tlsRx.url, { purpose: 'webhook', method: 'POST', json: { x: 1 }, tls: { cert: pki.clientCert, key: pki.clientKey, ca: pki.ca } });
      expect(res.status).toBe(200);
      await res.text();
      expect(tlsRx.received[0].clientCN).toBe('quay-ts registry');
      await expect(out.request(tlsRx.url, { purpose: 'webhook', method: 'POST', json: {}, tls: { ca: pki.ca } })).rejects.toBeInstanceOf(OutboundError);
      expect(tlsRx.received.length).toBe(1);
      out.close();
    } finally {
      await tlsRx.close();
    }
  });
});
