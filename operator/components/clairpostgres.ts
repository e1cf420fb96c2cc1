/** The managed Postgres for Clair. */
import { databaseHealth, prefixed, secret, service, serviceAccount } from './common.js';
import type { ComponentModule, Named, RenderContext } from './common.js';
import { databaseVolumes, postgresDeployment } from './postgres.js';
import { dbRuns } from '../pgupgrade.js';

export const clairDatabaseName = (ctx: Named) => prefixed(ctx, 'clair-postgres');
/** The volume Clair's database runs on now (one per Postgres major; see pgupgrade.ts). */
export const clairPvcName = (ctx: RenderContext) => dbRuns(ctx, 'clairpostgres').volume;
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
      ...databaseVolumes(ctx, 'clairpostgres', 'clair-postgres'),
      service(ctx, name, 'clair-postgres', 'clairpostgres', 'clair-postgres', [{ name: 'postgres', port: 5432, targetPort: 5432 }]),
      postgresDeployment(ctx, {
        name,
        component: 'clair-postgres',
        kind: 'clairpostgres',
        image: dbRuns(ctx, 'clairpostgres').image,
        pvc: clairPvcName(ctx),
        secretName: clairPostgresSecretName(ctx),
      }),
    ];
  },
  ready(ctx, observed) {
    return databaseHealth(ctx, observed, clairDatabaseName(ctx), 'ClairPostgres');
  },
};
