/**
 * TLS served by the registry itself, as Quay serves it: the pair `ssl.cert`/`ssl.key` in the config
 * directory (or named by --tls-cert/--tls-key, TLS_CERT_FILE/TLS_KEY_FILE) turns on HTTPS (HTTP/2 by ALPN,
 * HTTP/1.1 for clients that need it) beside plain HTTP. A pair that does not match, is expired or not yet
 * valid stops the start with a clear message; the files are watched and a new valid pair replaces the old
 * one for new handshakes without dropping open connections (the operator rotates them in place).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { SecureVersion } from 'node:tls';
import { existsSync, readFileSync, unwatchFile, watchFile } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';

export interface TlsFiles {
  cert: string;
  key: string;
}

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** Subject and expiry, for the logs. */
  subject: string;
  validTo: Date;
}

export class TlsConfigError extends Error {}

/** Protocol range and cipher list of the HTTPS listener, from Quay's SSL_PROTOCOLS and SSL_CIPHERS. */
export interface TlsPolicy {
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
}

const PROTOCOL_ORDER: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * Quay hands SSL_PROTOCOLS and SSL_CIPHERS to its nginx; here they bound the registry's own listener.
 * Node takes a range of versions, so a list with a hole (TLSv1.1 and TLSv1.3 without TLSv1.2) is refused
 * rather than silently widened. Cipher names are OpenSSL's; TLS 1.3 suites may be listed beside them.
 */
export function tlsPolicy(config: { SSL_PROTOCOLS?: string[]; SSL_CIPHERS?: string[] }): TlsPolicy {
  const policy: TlsPolicy = {};
  if (config.SSL_PROTOCOLS) {
    const idx = [...new Set(config.SSL_PROTOCOLS)].map((p) => PROTOCOL_ORDER.indexOf(p as SecureVersion)).sort((a, b) => a - b);
    if (!idx.length) throw new TlsConfigError('SSL_PROTOCOLS is empty: name at least one of TLSv1.2, TLSv1.3');
    if (idx[idx.length - 1] - idx[0] !== idx.length - 1) {
      throw new TlsConfigError(`SSL_PROTOCOLS must be a contiguous range of versions, got ${config.SSL_PROTOCOLS.join(', ')}`);
    }
    policy.minVersion = PROTOCOL_ORDER[idx[0]];
    policy.maxVersion = PROTOCOL_ORDER[idx[idx.length - 1]];
  }
  if (config.SSL_CIPHERS) {
    if (!config.SSL_CIPHERS.length) throw new TlsConfigError('SSL_CIPHERS is empty');
    policy.ciphers = config.SSL_CIPHERS.join(':');
  }
  return policy;
}

/** The pair to serve: named explicitly (both or neither), else ssl.cert + ssl.key beside the config file. */
export function findTlsFiles(opts: { cert?: string; key?: string; configPath?: string }): TlsFiles | null {
  if (opts.cert || opts.key) {
    if (!opts.cert || !opts.key) throw new TlsConfigError('TLS needs both a certificate and a key (--tls-cert and --tls-key, or TLS_CERT_FILE and TLS_KEY_FILE)');
    return { cert: opts.cert, key: opts.key };
  }
  if (!opts.configPath) return null;
  const dir = dirname(opts.configPath);
  const files = { cert: join(dir, 'ssl.cert'), key: join(dir, 'ssl.key') };
  const have = [existsSync(files.cert), existsSync(files.key)];
  if (have[0] !== have[1]) throw new TlsConfigError(`${have[0] ? files.cert : files.key} exists but ${have[0] ? files.key : files.cert} does not: TLS needs both`);
  return have[0] ? files : null;
}

/** Reads and checks a pair: the key must match the certificate, and the certificate must be valid now. */
export function loadTlsPair(files: TlsFiles, now = new Date()): TlsPair {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(files.cert);
    key = readFileSync(files.key);
  } catch (err) {
    throw new TlsConfigError(`cannot read the TLS pair: ${(err as Error).message}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new TlsConfigError(`${files.cert} is not a PEM certificate: ${(err as Error).message}`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new TlsConfigError(`${files.key} is not a PEM private key: ${(err as Error).message}`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new TlsConfigError(`${files.key} is not the private key of ${files.cert} (${x509.subject})`);
  const validTo = new Date(x509.validTo);
  if (validTo <= now) throw new TlsConfigError(`${files.cert} (${x509.subject}) expired on ${validTo.toISOString()}`);
  const validFrom = new Date(x509.validFrom);
  if (validFrom > now) throw new TlsConfigError(`${files.cert} (${x509.subject}) is not valid before ${validFrom.toISOString()}`);
  return { cert, key, subject: x509.subject.replace(/\n/g, ', '), validTo };
}

/**
 * Watches the pair and hands each new valid pair to `apply` (a TLS server's setSecureContext: running
 * connections keep their session, new handshakes get the new certificate). An invalid new pair is logged
 * and the current one kept. Polling (stat) sees Kubernetes' symlink swaps of projected secrets.
 */
export function watchTlsPair(files: TlsFiles, apply: (pair: TlsPair) => void, log: Logger, intervalMs = 1000): () => void {
  let last = '';
  const reload = () => {
    let pair: TlsPair;
    try {
      pair = loadTlsPair(files);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'TLS pair changed but is not usable; still serving the previous certificate');
      return;
    }
    const fingerprint = `${pair.cert.toString('base64')}|${pair.key.toString('base64')}`;
    if (fingerprint === last) return;
    last = fingerprint;
    apply(pair);
    log.info({ subject: pair.subject, validTo: pair.validTo.toISOString() }, 'TLS certificate loaded');
  };
  last = (() => {
    try {
      const p = loadTlsPair(files);
      return `${p.cert.toString('base64')}|${p.key.toString('base64')}`;
    } catch {
      return '';
    }
  })();
  for (const f of [files.cert, files.key]) watchFile(f, { interval: intervalMs, persistent: false }, reload);
  return () => {
    for (const f of [files.cert, files.key]) unwatchFile(f, reload);
  };
}
