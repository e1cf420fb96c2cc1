/**
 * Certificates: a CA and serving certificates made with node-forge (managed tls on Kubernetes), and
 * checks of a user's pair (key matches, hosts covered, not expired) with Node's X509Certificate.
 */
import { X509Certificate, constants, createPrivateKey, generateKeyPair, privateEncrypt, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

export interface Pem {
  cert: string;
  key: string;
}

const DAY = 24 * 3600 * 1000;
export const CA_DAYS = 3650;
export const SERVING_DAYS = 365;
/** A serving certificate is replaced when less than this is left. */
export const RENEW_BEFORE_DAYS = 30;

function serial(): string {
  // Positive 16-byte serial: clear the top bit so it is not read as negative.
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

function newCert(publicKey: forge.pki.PublicKey, days: number, now: Date): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(now.getTime() + days * DAY);
  return cert;
}

/** An RSA key from OpenSSL, off the event loop (node-forge would generate it synchronously). */
async function rsaKey(): Promise<{ publicKey: forge.pki.PublicKey; pem: string }> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { publicKey: forge.pki.publicKeyFromPem(publicKey), pem: privateKey };
}

/** DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256 (RFC 8017, 9.2 note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * node-forge builds the certificate; the RSA signature itself goes to OpenSSL: a PKCS#1 v1.5 signature
 * is the private-key operation on the DigestInfo with type-1 padding, which privateEncrypt performs.
 * (forge signs in JavaScript, at a cost of ~100 ms per certificate.)
 */
function signWith(cert: forge.pki.Certificate, keyPem: string): void {
  const signer = {
    sign: (md: forge.md.MessageDigest) =>
      privateEncrypt({ key: keyPem, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(md.digest().getBytes(), 'binary')])).toString('binary'),
  };
  cert.sign(signer as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
}

export async function generateCa(commonName: string, now = new Date()): Promise<Pem> {
  const key = await rsaKey();
  const cert = newCert(key.publicKey, CA_DAYS, now);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'quay-operator' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signWith(cert, key.pem);
  return { cert: forge.pki.certificateToPem(cert), key: key.pem };
}

const isIp = (h: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.includes(':');

/** A serving certificate for `hosts` (DNS names or IPs), signed by `ca`. */
export async function issueServingCert(ca: Pem, hosts: string[], now = new Date(), days = SERVING_DAYS): Promise<Pem> {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const key = await rsaKey();
  const cert = newCert(key.publicKey, days, now);
  cert.setSubject([{ name: 'commonName', value: hosts[0].slice(0, 64) }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => (isIp(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  signWith(cert, ca.key);
  return { cert: forge.pki.certificateToPem(cert), key: key.pem };
}

/** The first certificate of a PEM chain. */
function leaf(chain: string): X509Certificate {
  const m = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
  if (!m) throw new Error('no PEM certificate found');
  return new X509Certificate(m[0]);
}

function covers(cert: X509Certificate, host: string): boolean {
  return isIp(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
}

/**
 * Why a pair cannot serve `hosts`, or undefined when it can: the key must match the certificate, the
 * certificate must be valid now and name every host (wildcards allowed).
 */
export function pairProblem(pair: Pem, hosts: string[], now = new Date()): string | undefined {
  let cert: X509Certificate;
  try {
    cert = leaf(pair.cert);
  } catch (e) {
    return `certificate cannot be parsed: ${(e as Error).message}`;
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(pair.key))) return 'the private key does not match the certificate';
  } catch (e) {
    return `private key cannot be parsed: ${(e as Error).message}`;
  }
  if (new Date(cert.validTo).getTime() < now.getTime()) return `certificate expired on ${new Date(cert.validTo).toISOString()}`;
  const uncovered = hosts.filter((h) => !covers(cert, h));
  if (uncovered.length) return `provided certificate pair not valid for host '${uncovered.join("', '")}'`;
  return undefined;
}

/** A generated serving pair is kept while it covers `hosts`, chains to `ca`, and has RENEW_BEFORE_DAYS left. */
export function servingCertUsable(pair: Pem, ca: Pem, hosts: string[], now = new Date()): boolean {
  if (pairProblem(pair, hosts, now)) return false;
  const cert = leaf(pair.cert);
  if (!cert.checkIssued(leaf(ca.cert)) || !cert.verify(leaf(ca.cert).publicKey)) return false;
  return new Date(cert.validTo).getTime() - now.getTime() > RENEW_BEFORE_DAYS * DAY;
}

/** A CA is kept while it is valid for longer than any certificate it would issue. */
export function caUsable(ca: Pem, now = new Date()): boolean {
  try {
    const cert = leaf(ca.cert);
    if (!cert.checkPrivateKey(createPrivateKey(ca.key)) || !cert.ca) return false;
    return new Date(cert.validTo).getTime() - now.getTime() > (SERVING_DAYS + RENEW_BEFORE_DAYS) * DAY;
  } catch {
    return false;
  }
}
