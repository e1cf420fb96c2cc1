/**
 * Event fan-out against a real Postgres and PGlite: each emit finds the matching notifications and enqueues one
 * item per notification in ONE statement inside the producer's transaction (a push used to pay two: the
 * lookup, then the INSERT), with the payload `repositoryPayload` / `namespacePayload` build, only for enabled
 * notifications of the event, and nothing when the transaction rolls back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openEmbedded, openPostgres, type Db, type Queryable } from '../../../registry/db/index.js';
import { migrate } from '../../../registry/db/migrate.js';
import { Queues } from '../../../registry/queue/index.js';
import { Events, MAX_NOTIFICATION_FAILURES, NOTIFICATION_QUEUE, NOTIFICATION_RETRIES, type NotificationItemBody } from '../../../registry/model/events.js';
import { defaultConfig } from '../../../config/load.js';
import type { Principal } from '../../../registry/auth/principal.js';
import { createTestDatabase, dropTestDatabase } from '../../setup/services.js';

/** Counts the statements a producer sends through its transaction. */
function counting(q: Queryable): Queryable & { statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    query: (sql, params, opts) => {
      statements.push(sql);
      return q.query(sql, params, opts);
    },
    exec: (sql) => q.exec(sql),
  };
}

function suite(name: string, open: () => Promise<{ db: Db; close(): Promise<void> }>) {
  describe(name, () => {
    let db: Db;
    let close: () => Promise<void>;
    let events: Events;
    let repo: { id: number; namespace: string; name: string };
    let nsId: number;
    const config = { ...defaultConfig(), SERVER_HOSTNAME: 'registry.example:8443', PREFERRED_URL_SCHEME: 'https' as const };
    const performer = { kind: 'user', id: 7, name: 'alice' } as unknown as Principal;

    const items = async () =>
      (
        await db.query<{ path: string; body: NotificationItemBody; retries_remaining: number }>(
          'SELECT path, body, retries_remaining FROM queue_item WHERE queue_name = $1 ORDER BY id',
          [NOTIFICATION_QUEUE],
        )
      ).rows;

    beforeAll(async () => {
      ({ db, close } = await open());
      await migrate(db);
      events = new Events(config, new Queues(db));
      nsId = (await db.query<{ id: number }>("INSERT INTO namespace (name, kind) VALUES ('acme', 'org') RETURNING id")).rows[0].id;
      const r = await db.query<{ id: number }>("INSERT INTO repository (namespace_id, name) VALUES ($1, 'team/app') RETURNING id", [nsId]);
      repo = { id: r.rows[0].id, namespace: 'acme', name: 'team/app' };
    });
    afterAll(async () => close());
    beforeEach(async () => {
      await db.query('DELETE FROM queue_item');
      await db.query('DELETE FROM repository_notification');
      await db.query('DELETE FROM namespace_notification');
    });

    const notify = async (event: string, failures = 0) =>
      (
        await db.query<{ uuid: string }>(
          "INSERT INTO repository_notification (repository_id, event, method, config, number_of_failures) VALUES ($1, $2, 'webhook', '{}', $3) RETURNING uuid",
          [repo.id, event, failures],
        )
      ).rows[0].uuid;

    test('repo_push: one statement finds the notifications and enqueues the payload repositoryPayload builds', async () => {
      const hook = await notify('repo_push');
      const chat = await notify('repo_push');
      await notify('repo_push', MAX_NOTIFICATION_FAILURES); // disabled
      await notify('vulnerability_found'); // another event
      const before = Date.now();
      let statements: string[] = [];
      const enqueued = await db.tx(async (t) => {
        const q = counting(t);
        const { count: n } = await events.emitRepositoryPush(q, repo.id, ['v1', 'latest'], performer);
        statements = q.statements;
        return n;
      });
      expect(enqueued).toBe(2);
      expect(statements).toHaveLength(1);
      const got = await items();
      expect(got.map((i) => i.body.notification_uuid).sort()).toEqual([hook, chat].sort());
      for (const it of got) {
        expect(it.path).toBe('acme/team+app/repo_push');
        expect(it.retries_remaining).toBe(NOTIFICATION_RETRIES);
        const { notification_uuid: _uuid, emitted_at, ...rest } = it.body;
        expect(emitted_at).toBeGreaterThanOrEqual(before);
        expect(emitted_at).toBeLessThanOrEqual(Date.now());
        expect(rest).toEqual({
          event: 'repo_push',
          event_data: events.repositoryPayload('acme', 'team/app', { updated_tags: ['v1', 'latest'] }),
          performer_data: { entity_id: 7, entity_name: 'alice' },
        });
      }
      expect(got[0].body.event_data).toEqual({
        repository: 'acme/team/app',
        namespace: 'acme',
        name: 'team/app',
        docker_url: 'registry.example:8443/acme/team/app',
        homepage: 'https://registry.example:8443/repository/acme/team/app',
        updated_tags: ['v1', 'latest'],
      });
    });

    test('repo_push without notifications: one statement, nothing enqueued', async () => {
      await notify('vulnerability_found');
      const q = counting(db);
      expect((await events.emitRepositoryPush(q, repo.id, ['v1'])).count).toBe(0);
      expect(q.statements).toHaveLength(1);
      expect(await items()).toEqual([]);
    });

    test('a repository event: one statement, the matching notification only (onlyUuid), nothing after a rollback', async () => {
      const one = await notify('vulnerability_found');
      await notify('vulnerability_found');
      const data = { tags: ['v1'], vulnerability: { id: 'CVE-1', priority: 'High' } };
      await expect(
        db.tx(async (t) => {
          expect(await events.emitRepository(t, 'vulnerability_found', repo, data, undefined, { onlyUuid: one })).toBe(1);
          throw new Error('rollback');
        }),
      ).rejects.toThrow('rollback');
      expect(await items()).toEqual([]);
      const q = counting(db);
      expect(await events.emitRepository(q, 'vulnerability_found', repo, data, undefined, { onlyUuid: one, subpage: 'manifest/sha256:ab', extraPath: ['x'] })).toBe(1);
      expect(q.statements).toHaveLength(1);
      const [it] = await items();
      expect(it.path).toBe('acme/team+app/vulnerability_found/x');
      expect(it.body).toMatchObject({
        notification_uuid: one,
        event: 'vulnerability_found',
        event_data: events.repositoryPayload('acme', 'team/app', data, 'manifest/sha256:ab'),
        performer_data: {},
      });
    });

    test('a namespace event: one statement for all its notifications, marked as namespace items', async () => {
      const uuids = [];
      for (let i = 0; i < 3; i++) {
        const r = await db.query<{ uuid: string }>("INSERT INTO namespace_notification (namespace_id, event, method) VALUES ($1, 'quota_warning', 'webhook') RETURNING uuid", [
          nsId,
        ]);
        uuids.push(r.rows[0].uuid);
      }
      const q = counting(db);
      expect(await events.emitNamespace(q, 'quota_warning', { id: nsId, name: 'acme' }, { threshold_percent: 80 })).toBe(3);
      expect(q.statements).toHaveLength(1);
      const got = await items();
      expect(got.map((i) => i.body.notification_uuid).sort()).toEqual(uuids.sort());
      for (const it of got) {
        expect(it.path).toBe('acme/quota_warning');
        expect(it.body).toMatchObject({ event: 'quota_warning', notification_type: 'namespace', event_data: events.namespacePayload('acme', { threshold_percent: 80 }) });
      }
    });
  });
}

suite('event fan-out on Postgres', async () => {
  const uri = await createTestDatabase('emit');
  const db = await openPostgres(uri, { max: 3 });
  return {
    db,
    close: async () => {
      await db.close();
      await dropTestDatabase(uri);
    },
  };
});

suite('event fan-out on PGlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'emit-'));
  const db = await openEmbedded(dir);
  return {
    db,
    close: async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
