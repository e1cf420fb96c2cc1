/** The managed Postgres for the registry: PVC, Deployment, Service and its credentials Secret. */
import { databaseHealth, deployment, prefixed, pvc, secret, service, serviceAccount } from './common.js';
import type { ComponentModule, Named, RenderContext } from './common.js';
import { dbRuns, dbVolumeName, type DbKind } from '../pgupgrade.js';

export const databaseName = (ctx: Named) => prefixed(ctx, 'quay-database');
/** The volume the database runs on now (one per Postgres major; see pgupgrade.ts). */
export const postgresPvcName = (ctx: RenderContext) => dbRuns(ctx, 'postgres').volume;
export const postgresSecretName = (ctx: Named) => prefixed(ctx, 'postgres-config-secret');

/** The generated DB_URI: user, password and database as Quay's operator names them. */
export function generatedDbUri(name: string, password: string): string {
  const db = `${name}-quay-database`;
  return `postgresql://${db}:${encodeURIComponent(password)}@${db}:5432/${db}`;
}

/** The volume the database runs on, and during an upgrade to a new major the one the copy goes to. */
function databaseVolumes(ctx: RenderContext, kind: DbKind, component: string) {
  const now = dbRuns(ctx, kind).volume;
  const next = dbVolumeName(ctx, kind, ctx.images[kind]);
  return [now, ...(next !== now ? [next] : [])].map((v) => pvc(ctx, v, component, kind, '50Gi'));
}

/** The credentials Secret's keys, as the sclorg image's environment reads them. */
export interface DatabaseCredentials {
  'database-username': string;
  'database-password': string;
  'database-name': string;
  'database-root-password': string;
}

/**
 * Everything one managed database is made of, for both database components (sclorg images): service
 * account, credentials Secret, volumes, Service and Deployment.
 */
export function databaseObjects(
  ctx: RenderContext,
  opts: { name: string; component: string; kind: 'postgres' | 'clairpostgres'; secretName: string; credentials: DatabaseCredentials },
) {
  return [
    serviceAccount(ctx, opts.name, opts.component, opts.kind),
    secret(ctx, opts.secretName, opts.component, opts.kind, { ...opts.credentials }),
    ...databaseVolumes(ctx, opts.kind, opts.component),
    service(ctx, opts.name, opts.component, opts.kind, opts.component, [{ name: 'postgres', port: 5432, targetPort: 5432 }]),
    postgresDeployment(ctx, { ...opts, image: dbRuns(ctx, opts.kind).image, pvc: dbRuns(ctx, opts.kind).volume }),
  ];
}

function postgresDeployment(ctx: RenderContext, opts: { name: string; component: string; kind: DbKind; image: string; pvc: string; secretName: string }) {
  const fromSecret = (key: string) => ({ secretKeyRef: { name: opts.secretName, key } });
  return deployment(ctx, {
    name: opts.name,
    component: opts.component,
    kind: opts.kind,
    serviceAccount: opts.name,
    replicas: 1,
    strategy: { type: 'Recreate' },
    volumes: [{ name: 'postgres-data', persistentVolumeClaim: { claimName: opts.pvc } }],
    containers: [
      {
        // Quay's names: `postgres` and `clair-postgres`.
        name: opts.component,
        image: opts.image,
        env: [
          { name: 'POSTGRESQL_USER', valueFrom: fromSecret('database-username') },
          { name: 'POSTGRESQL_PASSWORD', valueFrom: fromSecret('database-password') },
          { name: 'POSTGRESQL_DATABASE', valueFrom: fromSecret('database-name') },
          { name: 'POSTGRESQL_ADMIN_PASSWORD', valueFrom: fromSecret('database-root-password') },
          { name: 'POSTGRESQL_MAX_CONNECTIONS', value: '1000' },
          { name: 'POSTGRESQL_SHARED_BUFFERS', value: '256MB' },
        ],
        ports: [{ name: 'postgres', containerPort: 5432, protocol: 'TCP' }],
        volumeMounts: [{ name: 'postgres-data', mountPath: '/var/lib/pgsql/data' }],
        readinessProbe: { exec: { command: ['/usr/libexec/check-container'] }, periodSeconds: 10, timeoutSeconds: 5 },
        livenessProbe: { exec: { command: ['/usr/libexec/check-container', '--live'] }, initialDelaySeconds: 120, periodSeconds: 10 },
        resources: { requests: { cpu: '250m', memory: '512Mi' } },
      },
    ],
  });
}

export const postgres: ComponentModule = {
  kind: 'postgres',
  fieldGroup: ['DB_URI', 'DB_CONNECTION_ARGS'],
  config(ctx) {
    return { DB_URI: ctx.keys.DB_URI, DB_CONNECTION_ARGS: { autorollback: true, threadlocals: true } };
  },
  objects(ctx) {
    const uri = new URL(ctx.keys.DB_URI ?? '');
    return databaseObjects(ctx, {
      name: databaseName(ctx),
      component: 'postgres',
      kind: 'postgres',
      secretName: postgresSecretName(ctx),
      credentials: {
        'database-username': decodeURIComponent(uri.username),
        'database-password': decodeURIComponent(uri.password),
        'database-name': uri.pathname.slice(1),
        'database-root-password': ctx.keys.DB_ROOT_PW,
      },
    });
  },
  ready(ctx, observed) {
    return databaseHealth(ctx, observed, databaseName(ctx), 'Postgres');
  },
};
