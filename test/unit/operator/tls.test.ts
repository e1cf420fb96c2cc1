import { X509Certificate } from 'node:crypto';
import { caUsable, generateCa, issueServingCert, pairProblem, servingCertUsable, type Pem } from '../../../operator/tls.js';

const DAY = 24 * 3600 * 1000;

describe('TLS', () => {
  const hosts = ['registry.example.test', 'builder.example.test', '127.0.0.1'];
  let ca: Pem;
  let serving: Pem;

  beforeAll(async () => {
    ca = await generateCa('test CA');
    serving = await issueServingCert(ca, hosts);
  });

  test('the generated CA signs a serving certificate covering every host', async () => {
    const cert = new X509Certificate(serving.cert);
    expect(cert.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(cert.subjectAltName).toContain('DNS:builder.example.test');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(pairProblem(serving, hosts)).toBeUndefined();
    expect(caUsable(ca)).toBe(true);
  });

  test('a pair whose key does not match, or that misses a host, is refused with the reason', async () => {
    const other = await issueServingCert(ca, ['other.example.test']);
    expect(pairProblem({ cert: serving.cert, key: other.key }, hosts)).toBe('the private key does not match the certificate');
    expect(pairProblem(other, ['registry.example.test'])).toBe("provided certificate pair not valid for host 'registry.example.test'");
    expect(pairProblem({ cert: 'junk', key: serving.key }, hosts)).toMatch(/^certificate cannot be parsed/);
  });

  test('wildcard certificates cover one label', async () => {
    const wild = await issueServingCert(ca, ['*.apps.example.test']);
    expect(pairProblem(wild, ['reg-quay-ns.apps.example.test'])).toBeUndefined();
    expect(pairProblem(wild, ['a.b.apps.example.test'])).toMatch(/not valid for host/);
  });

  test('a serving certificate is renewed 30 days before it expires, or when hosts change', async () => {
    expect(servingCertUsable(serving, ca, hosts)).toBe(true);
    expect(servingCertUsable(serving, ca, hosts, new Date(Date.now() + 340 * DAY))).toBe(false);
    expect(servingCertUsable(serving, ca, [...hosts, 'new.example.test'])).toBe(false);
    expect(servingCertUsable(serving, await generateCa('another CA'), hosts)).toBe(false);
  });
});
