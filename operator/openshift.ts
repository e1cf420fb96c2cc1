/**
 * OpenShift cluster settings the registry inherits: the APIServer's TLS security profile (rendered as
 * SSL_PROTOCOLS / SSL_CIPHERS when the registry terminates TLS itself) and the CA ConfigMaps that
 * OpenShift fills (service CA, trusted CA bundle), whose content hashes roll the pods that mount them.
 */
import { createHash } from 'node:crypto';

/** OpenShift's Intermediate profile ciphers; Old accepts these and then older ones. */
const INTERMEDIATE_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
];

/** OpenShift's predefined profiles (config.openshift.io/v1 TLSProfiles): OpenSSL cipher names, minimum version. */
const PROFILES: Record<string, { ciphers: string[]; minTLSVersion: string }> = {
  Old: {
    ciphers: [
      ...INTERMEDIATE_CIPHERS,
      'DHE-RSA-CHACHA20-POLY1305',
      'ECDHE-ECDSA-AES128-SHA256',
      'ECDHE-RSA-AES128-SHA256',
      'ECDHE-ECDSA-AES128-SHA',
      'ECDHE-RSA-AES128-SHA',
      'ECDHE-ECDSA-AES256-SHA384',
      'ECDHE-RSA-AES256-SHA384',
      'ECDHE-ECDSA-AES256-SHA',
      'ECDHE-RSA-AES256-SHA',
      'DHE-RSA-AES128-SHA256',
      'DHE-RSA-AES256-SHA256',
      'AES128-GCM-SHA256',
      'AES256-GCM-SHA384',
      'AES128-SHA256',
      'AES256-SHA256',
      'AES128-SHA',
      'AES256-SHA',
      'DES-CBC3-SHA',
    ],
    minTLSVersion: 'VersionTLS10',
  },
  Intermediate: { ciphers: INTERMEDIATE_CIPHERS, minTLSVersion: 'VersionTLS12' },
  Modern: { ciphers: ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'], minTLSVersion: 'VersionTLS13' },
};

const PROTOCOLS: Record<string, string[]> = {
  VersionTLS10: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'],
  VersionTLS11: ['TLSv1.1', 'TLSv1.2', 'TLSv1.3'],
  VersionTLS12: ['TLSv1.2', 'TLSv1.3'],
  VersionTLS13: ['TLSv1.3'],
};

export interface ClusterTls {
  SSL_PROTOCOLS: string[];
  SSL_CIPHERS: string[];
}

/**
 * `spec.tlsSecurityProfile` of `apiservers.config.openshift.io/cluster` as config keys: the protocols
 * from the minimum version up, the profile's ciphers. No profile, an unknown type or a Custom one
 * without its settings mean Intermediate (OpenShift's default); an unknown minimum means TLS 1.2+.
 */
export function clusterTlsSettings(profile: { type?: string; custom?: { ciphers?: string[]; minTLSVersion?: string } } | undefined): ClusterTls {
  const spec = profile?.type === 'Custom' && profile.custom ? profile.custom : (PROFILES[profile?.type ?? ''] ?? PROFILES.Intermediate);
  return { SSL_PROTOCOLS: PROTOCOLS[spec.minTLSVersion ?? ''] ?? PROTOCOLS.VersionTLS12, SSL_CIPHERS: [...(spec.ciphers ?? [])] };
}

export const SERVICE_CA_ANNOTATION = 'cluster-service-ca';
export const TRUSTED_CA_ANNOTATION = 'cluster-trusted-ca';

/** Quay's CA hash: the last 8 hex digits of sha256 of the ConfigMap's certificate bundle. */
export function caHash(content: string): string {
  return createHash('sha256').update(content).digest('hex').slice(-8);
}
