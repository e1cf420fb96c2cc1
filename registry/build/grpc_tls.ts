/**
 * TLS of the build manager's gRPC listener. Quay puts nginx in front of buildman (TLS on :55443); here the
 * manager serves TLS itself with the registry's own pair (ssl.cert/ssl.key, as registry/tls.ts finds it), so
 * builders reach it through the operator's passthrough builder Route. BUILDMAN_GRPC_TLS overrides the choice:
 * `false` serves plaintext although there is a pair (a proxy in front terminates TLS, e.g. an edge Route or
 * an Ingress with backend-protocol GRPC), `true` refuses to start without a pair. A new pair on disk replaces
 * the old one for new handshakes, as the HTTPS listener does.
 *
 * Workers are given the CA bundle to trust (Quay's worker env CA_CERT): the executor's CA_CERT, else the
 * served certificate chain, plus every file of extra_ca_certs/ beside the config (Quay's EXTRA_CA_CERTS).
 */
import * as grpc from '@grpc/grpc-js';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { TlsConfigError, loadTlsPair, watchTlsPair, type TlsFiles, type TlsPair, type TlsPolicy } from '../tls.js';

export interface GrpcTlsOptions {
  files: TlsFiles;
  policy: TlsPolicy;
}

/** Server credentials whose certificate can be replaced while the server runs. */
export class RotatingServerCredentials extends grpc.ServerCredentials {
  constructor(pair: TlsPair, policy: TlsPolicy) {
    super({ ...policy }, { cert: pair.cert, key: pair.key });
  }

  rotate(pair: TlsPair): void {
    this.updateSecureContextOptions({ cert: pair.cert, key: pair.key });
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** The pair to serve gRPC with, or null for plaintext; `available` is what the registry serves HTTPS with. */
export function grpcTlsChoice(available: GrpcTlsOptions | null, env: NodeJS.ProcessEnv = process.env): GrpcTlsOptions | null {
  const want = env.BUILDMAN_GRPC_TLS;
  if (want !== undefined && want !== 'true' && want !== 'false') throw new TlsConfigError(`BUILDMAN_GRPC_TLS must be true or false (got "${want}")`);
  if (want === 'false') return null;
  if (want === 'true' && !available) throw new TlsConfigError('BUILDMAN_GRPC_TLS is true but the registry has no certificate (ssl.cert and ssl.key beside config.yaml)');
  return available;
}

/** Credentials for the listener, and a function that stops watching the pair. */
export function grpcServerCredentials(tls: GrpcTlsOptions, log: Logger): { credentials: RotatingServerCredentials; unwatch: () => void } {
  const credentials = new RotatingServerCredentials(loadTlsPair(tls.files), tls.policy);
  const unwatch = watchTlsPair(tls.files, (pair) => credentials.rotate(pair), log);
  return { credentials, unwatch };
}

/** The PEM bundle workers trust for the manager (and, when not INSECURE, for the registry). */
export function workerCaBundle(executorCa: unknown, tls: GrpcTlsOptions | null, configDir: string | null): string {
  const parts: string[] = [];
  if (typeof executorCa === 'string' && executorCa.trim()) parts.push(executorCa.trim());
  else if (tls) parts.push(readFileSync(tls.files.cert, 'utf8').trim());
  const extra = configDir ? join(configDir, 'extra_ca_certs') : null;
  if (extra && existsSync(extra)) {
    for (const f of readdirSync(extra).sort()) {
      if (f.startsWith('.')) continue;
      try {
        parts.push(readFileSync(join(extra, f), 'utf8').trim());
      } catch {
        // a directory or an unreadable entry: not a certificate
      }
    }
  }
  return parts.length ? `${parts.join('\n')}\n` : '';
}
