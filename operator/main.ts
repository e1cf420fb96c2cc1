/**
 * `npm run operator`: runs the QuayRegistry operator against the cluster in KUBECONFIG (or in-cluster
 * credentials). Environment:
 *   WATCH_NAMESPACE            one namespace to watch (empty: all)
 *   QUAY_VERSION               the registry version rolled out (default: this package's version)
 *   RELATED_IMAGE_COMPONENT_{QUAY,CLAIR,REDIS,POSTGRES,CLAIRPOSTGRES}   image overrides
 *   RELATED_IMAGE_COMPONENT_{POSTGRES,CLAIRPOSTGRES}_PREVIOUS             the databases' previous major (upgrades)
 *   POSTGRES_UPGRADE_DELETE_BACKUP=true   delete a database's old volume after a major upgrade
 *   INGRESS_DOMAIN             apps domain for generated hostnames (`<n>-quay-<ns>.<domain>`)
 *   INGRESS_CLASS_NAME         IngressClass of the Ingresses it creates (default: the cluster default)
 *   OBJECT_BUCKET_STORAGE_CLASS  StorageClass of ObjectBucketClaims (default openshift-storage.noobaa.io)
 *   RESYNC_SECONDS             pass interval for a converged registry (default 120)
 *   RECONCILE_CONCURRENCY      registries reconciled at once (default 4)
 *   HTTP_PROXY, HTTPS_PROXY, NO_PROXY   passed to quay, clair and mirror (OLM sets the cluster proxy)
 *   HEALTH_SECONDS             component health evaluated between passes every so often (default 60)
 */
import { readFileSync } from 'node:fs';
import { QuayOperator } from './controller.js';
import type { Images } from './components/common.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const env = (k: string) => process.env[k] || undefined;

export const DEFAULT_IMAGES: Images = {
  quay: `quay-ts:${pkg.version}`,
  clair: 'quay.io/projectquay/clair:4.9.0',
  postgres: 'quay.io/sclorg/postgresql-13-c9s:latest',
  clairpostgres: 'quay.io/sclorg/postgresql-15-c9s:latest',
  redis: 'quay.io/sclorg/redis-7-c9s:latest',
};

function log(level: string, msg: string): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg })}\n`);
}
const logger = { info: (m: string) => log('info', m), warn: (m: string) => log('warn', m), error: (m: string) => log('error', m) };

async function main(): Promise<void> {
  const operator = new QuayOperator(
    {
      namespace: env('WATCH_NAMESPACE'),
      quayVersion: env('QUAY_VERSION') ?? pkg.version,
      images: {
        quay: env('RELATED_IMAGE_COMPONENT_QUAY') ?? DEFAULT_IMAGES.quay,
        clair: env('RELATED_IMAGE_COMPONENT_CLAIR') ?? DEFAULT_IMAGES.clair,
        postgres: env('RELATED_IMAGE_COMPONENT_POSTGRES') ?? DEFAULT_IMAGES.postgres,
        clairpostgres: env('RELATED_IMAGE_COMPONENT_CLAIRPOSTGRES') ?? DEFAULT_IMAGES.clairpostgres,
        redis: env('RELATED_IMAGE_COMPONENT_REDIS') ?? DEFAULT_IMAGES.redis,
        postgresPrevious: env('RELATED_IMAGE_COMPONENT_POSTGRES_PREVIOUS'),
        clairpostgresPrevious: env('RELATED_IMAGE_COMPONENT_CLAIRPOSTGRES_PREVIOUS'),
      },
      settings: {
        bucketStorageClass: env('OBJECT_BUCKET_STORAGE_CLASS') ?? 'openshift-storage.noobaa.io',
        ingressClassName: env('INGRESS_CLASS_NAME'),
        clusterWide: !env('WATCH_NAMESPACE'),
        proxy: { HTTP_PROXY: env('HTTP_PROXY'), HTTPS_PROXY: env('HTTPS_PROXY'), NO_PROXY: env('NO_PROXY') },
        deleteUpgradeBackup: env('POSTGRES_UPGRADE_DELETE_BACKUP') === 'true',
      },
      ingressDomain: env('INGRESS_DOMAIN'),
      resyncMs: Number(env('RESYNC_SECONDS') ?? 120) * 1000,
      concurrency: Number(env('RECONCILE_CONCURRENCY') ?? 4),
      healthMs: Number(env('HEALTH_SECONDS') ?? 60) * 1000,
    },
    logger,
  );
  const shutdown = () => {
    logger.info('stopping');
    operator.stop();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  await operator.start();
  logger.info(`quay operator started (version ${env('QUAY_VERSION') ?? pkg.version})`);
}

main().catch((err) => {
  logger.error(`operator failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
