/** The managed Postgres for Clair. */
import { databaseHealth, prefixed } from './common.js';
import type { ComponentModule, Named, RenderContext } from './common.js';
import { databaseObjects } from './postgres.js';
import { dbRuns } from '../pgupgrade.js';

export const clairDatabaseName = (ctx: Named) => prefixed(ctx, 'clair-postgres');
/** The volume Clair's database runs on now (one per Postgres major; see pgupgrade.ts). */
export const clairPvcName = (ctx: RenderContext) => dbRuns(ctx, 'clairpostgres').volume;
export const clairPostgresSecretName = (ctx: Named) => prefixed(ctx, 'clairpostgres-config-secret');

export const clairpostgres: ComponentModule = {
  kind: 'clairpostgres',
  fieldGroup: [],
  objects(ctx) {
    return databaseObjects(ctx, {
      name: clairDatabaseName(ctx),
      component: 'clair-postgres',
      kind: 'clairpostgres',
      secretName: clairPostgresSecretName(ctx),
      credentials: {
        'database-username': ctx.keys.CLAIR_DB_USER,
        'database-password': ctx.keys.CLAIR_DB_PASSWORD,
        'database-name': ctx.keys.CLAIR_DB_NAME,
        'database-root-password': ctx.keys.CLAIR_DB_ROOT_PW,
      },
    });
  },
  ready(ctx, observed) {
    return databaseHealth(ctx, observed, clairDatabaseName(ctx), 'ClairPostgres');
  },
};
