/** A RenderContext for unit tests of the pure renderers. */
import { componentMap, fillComponents } from '../../../operator/spec.js';
import { resolveManagedKeys } from '../../../operator/bundle.js';
import type { RenderContext } from '../../../operator/components/common.js';
import type { Component, Platform } from '../../../operator/types.js';

export const KUBERNETES: Platform = { routes: false, scc: false, objectBuckets: false, monitoring: false, hpaV2: true, consoleDashboards: false };
export const OPENSHIFT: Platform = { routes: true, scc: true, objectBuckets: true, monitoring: true, hpaV2: true, consoleDashboards: true };

export function context(opts: { platform?: Platform; components?: Component[]; userConfig?: Record<string, unknown>; bundle?: Record<string, string> } = {}): RenderContext {
  const platform = opts.platform ?? KUBERNETES;
  const bundle = opts.bundle ?? {};
  const components = componentMap(fillComponents(opts.components, platform, bundle).components);
  const userConfig = opts.userConfig ?? { SERVER_HOSTNAME: 'registry.example.test' };
  return {
    name: 'reg',
    namespace: 'ns1',
    uid: 'uid-1',
    components,
    platform,
    settings: { bucketStorageClass: 'openshift-storage.noobaa.io', proxy: {}, clusterWide: true },
    images: { quay: 'quay-ts:test', clair: 'clair:test', postgres: 'pg13:test', clairpostgres: 'pg15:test', redis: 'redis:test' },
    quayVersion: '1.2.3',
    hostname: String(userConfig.SERVER_HOSTNAME ?? 'reg-quay-ns1.apps.example.test'),
    scheme: 'https',
    userConfig,
    bundle,
    keys: resolveManagedKeys('reg', {}, userConfig, components, () => 'fixedsecretvalue'),
    builders: [],
    builderTokens: {},
    migrating: false,
    pgUpgrades: {},
    configSecretName: 'reg-quay-config-secret-abc',
    tlsAnnotations: {},
    caAnnotations: {},
  };
}
