/**
 * Moving a managed database to a new Postgres major, as Quay's operator does: the operator's image for the
 * database names a higher major (`postgresql-15-…`) than the Deployment runs. The running database keeps
 * running on its own volume while the registry's writers (quay-app, mirror; clair-app for Clair's database)
 * are scaled to zero; a Job started from the new image dumps it over the database Service into a new volume
 * named after the new major (the sclorg image's POSTGRESQL_MIGRATION_REMOTE_HOST). On success the Deployment
 * moves to the new image and volume and the writers come back; the old volume is kept, no longer owned by
 * the registry, as a backup (deleted when the operator runs with POSTGRES_UPGRADE_DELETE_BACKUP=true). On
 * failure nothing was moved: the writers come back on the old database, the status says why, and deleting
 * the failed Job starts another attempt.
 */
import { ownerReference, prefixed } from './components/common.js';
import type { Named, RenderContext } from './components/common.js';
import type { KubeObject } from './types.js';

export type DbKind = 'postgres' | 'clairpostgres';

export interface PgUpgrade {
  /** The image the database runs now (or RELATED_IMAGE_COMPONENT_*_PREVIOUS, its mirror) and its major. */
  fromImage: string;
  fromMajor: number;
  toMajor: number;
  /** `pending`: no Job yet (this pass creates it). */
  state: 'pending' | 'running' | 'failed' | 'succeeded';
  /** Why the Job failed, from its Failed condition. */
  message?: string;
}

const DEFAULT_MAJOR: Record<DbKind, number> = { postgres: 13, clairpostgres: 15 };
const VOLUME_STEM: Record<DbKind, string> = { postgres: 'quay-postgres', clairpostgres: 'clair-postgres' };
const JOB_STEM: Record<DbKind, string> = { postgres: 'quay-postgres-upgrade', clairpostgres: 'clair-postgres-upgrade' };
/** On the Job: the volume it copies from, released when the upgrade has gone through. */
export const UPGRADE_FROM_VOLUME = 'quay-ts.io/upgrade-from-volume';

/** The Postgres major an sclorg-style image name carries (`…/postgresql-13-c9s:latest` → 13). */
export function pgMajor(image: string): number | undefined {
  const m = /(?:^|[/-])postgresql-?(\d+)/.exec(image.split('@')[0]);
  return m ? Number(m[1]) : undefined;
}

/** The database's volume: one per major, so an upgrade writes beside the data it reads. */
export function dbVolumeName(ctx: Named, kind: DbKind, image: string): string {
  return prefixed(ctx, `${VOLUME_STEM[kind]}-${pgMajor(image) ?? DEFAULT_MAJOR[kind]}`);
}

export const pgUpgradeJobName = (ctx: Named, kind: DbKind): string => prefixed(ctx, JOB_STEM[kind]);

/**
 * What an upgrade looks like from the live Deployment's image and the Job, if any. `downgrade` when the
 * operator's image is an older major than the data: Postgres cannot read it, so the rollout must stop.
 */
export function upgradeState(
  liveImage: string | undefined,
  wantImage: string,
  previousImage: string | undefined,
  job: Record<string, any> | undefined,
): PgUpgrade | 'downgrade' | undefined {
  if (!liveImage) return undefined;
  const from = pgMajor(liveImage);
  const to = pgMajor(wantImage);
  if (from === undefined || to === undefined || from === to) return undefined;
  if (from > to) return 'downgrade';
  const failed = (job?.status?.conditions ?? []).find((c: any) => c.type === 'Failed' && c.status === 'True');
  const state: PgUpgrade['state'] = !job || job.metadata?.deletionTimestamp ? 'pending' : job.status?.succeeded ? 'succeeded' : failed ? 'failed' : 'running';
  // The mirror of the running image when the operator names one of the same major (disconnected clusters).
  const fromImage = previousImage && pgMajor(previousImage) === from ? previousImage : liveImage;
  return { fromImage, fromMajor: from, toMajor: to, state, ...(failed ? { message: String(failed.message ?? failed.reason ?? 'failed') } : {}) };
}

/** The writers of a database stop while it is copied, so the copy is complete. */
export function writersStopped(ctx: RenderContext, kind: DbKind): boolean {
  const u = ctx.pgUpgrades[kind];
  return u !== undefined && (u.state === 'pending' || u.state === 'running');
}

/** The image and volume the database Deployment runs in this pass. */
export function dbRuns(ctx: RenderContext, kind: DbKind): { image: string; volume: string } {
  const u = ctx.pgUpgrades[kind];
  const image = u && u.state !== 'succeeded' ? u.fromImage : ctx.images[kind];
  return { image, volume: dbVolumeName(ctx, kind, image) };
}

/** The copy Job: the new image on the new volume, dumping the running database through its Service. */
export function pgUpgradeJob(ctx: RenderContext, kind: DbKind, opts: { serviceName: string; secretName: string; serviceAccount: string }): KubeObject {
  const u = ctx.pgUpgrades[kind]!;
  const volume = dbVolumeName(ctx, kind, ctx.images[kind]);
  const from = dbVolumeName(ctx, kind, u.fromImage);
  const component = JOB_STEM[kind];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: pgUpgradeJobName(ctx, kind),
      namespace: ctx.namespace,
      labels: { 'quay-operator/quayregistry': ctx.name, 'quay-component': component },
      annotations: { 'quay-component': component, [UPGRADE_FROM_VOLUME]: from, 'quay-ts.io/upgrade': `${u.fromMajor} to ${u.toMajor}` },
      ownerReferences: [ownerReference(ctx)],
    },
    spec: {
      // A few attempts, each from an empty volume (see the command), then report.
      backoffLimit: 3,
      template: {
        metadata: { labels: { 'quay-operator/quayregistry': ctx.name, 'quay-component': component } },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 600,
          serviceAccountName: opts.serviceAccount,
          volumes: [{ name: 'postgres-data', persistentVolumeClaim: { claimName: volume } }],
          containers: [
            {
              name: 'postgres-upgrade',
              image: ctx.images[kind],
              env: [
                { name: 'POSTGRESQL_MIGRATION_REMOTE_HOST', value: opts.serviceName },
                { name: 'POSTGRESQL_MIGRATION_ADMIN_PASSWORD', valueFrom: { secretKeyRef: { name: opts.secretName, key: 'database-root-password' } } },
                { name: 'POSTGRESQL_SHARED_BUFFERS', value: '256MB' },
                { name: 'POSTGRESQL_MAX_CONNECTIONS', value: '1000' },
              ],
              // The image initialises the new cluster from the remote dump, then `postgres --version` exits.
              command: ['/bin/sh', '-c'],
              // Every attempt starts from an empty volume: an attempt killed mid-copy (evicted, OOM) leaves a data
              // directory the image would take as already initialised, and skip the copy.
              args: ['rm -rf /var/lib/pgsql/data/* && run-postgresql --version'],
              volumeMounts: [{ name: 'postgres-data', mountPath: '/var/lib/pgsql/data' }],
              resources: { requests: { cpu: '250m', memory: '512Mi' } },
            },
          ],
        },
      },
    },
  };
}
