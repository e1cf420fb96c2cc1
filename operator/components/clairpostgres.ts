/** The managed Postgres for Clair. */
import { databaseHealth, prefixed, pvc, secret, service, serviceAccount } from './common.js';
import type { ComponentModule, Named } from './common.js';
import { postgresDeployment } from './postgres.js';

export const clairDatabaseName = (ctx: Named) => prefixed(ctx, 'clair-postgres');
export const clairPvcName = (ctx: Named) => prefixed(ctx, 'clair-postgres-15');
export const clairPostgresSecretName = (ctx: Named) => prefixed(ctx, 'clairpostgres-config-secret');

export const clairpostgres: ComponentModule = {
  kind: 'clairpostgres',
  fieldGroup: [],
  objects(ctx) {
    const name = clairDatabaseName(ctx);
    return [
      serviceAccount(ctx, name, 'clair-postgres', 'clairpostgres'),
      secret(ctx, clairPostgresSecretName(ctx), 'clair-postgres', 'clairpostgres', {
        'database-username': ctx.keys.CLAIR_DB_USER,
        'database-password': ctx.keys.CLAIR_DB_PASSWORD,
        'database-name': ctx.keys.CLAIR_DB_NAME,
        'database-root-password': ctx.keys.CLAIR_DB_ROOT_PW,
      }),
      pvc(ctx, clairPvcName(ctx), 'clair-postgres', 'clairpostgres', '50Gi'),
      service(ctx, name, 'clair-postgres', 'clairpostgres', 'clair-postgres', [{ name: 'postgres', port: 5432, targetPort: 5432 }]),
      postgresDeployment(ctx, {
        name,
        component: 'clair-postgres',
        kind: 'clairpostgres',
        image: ctx.images.clairpostgres,
        pvc: clairPvcName(ctx),
        secretName: clairPostgresSecretName(ctx),
      }),
    ];
  },
  ready(ctx, observed) {
    return databaseHealth(ctx, observed, clairDatabaseName(ctx), 'ClairPostgres');
  },
};
