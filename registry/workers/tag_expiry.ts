/**
 * Tag expiry. A tag with an expiry is a row whose end lies in the future, so it stops resolving exactly at
 * that time without any worker; this worker records each passed expiry once (usage log `tag_expiration`),
 * after which the row is ordinary history, restorable inside the time machine window and then collected.
 */
import type { Runtime } from '../runtime.js';
import { ANONYMOUS } from '../auth/principal.js';

export async function recordExpiredTags(rt: Runtime): Promise<number> {
  let total = 0;
  for (;;) {
    const passed = await rt.tags.claimPassedExpiries();
    if (passed.length === 0) return total;
    const repos = await rt.db.query<{ id: number; name: string; namespace_id: number; namespace: string }>(
      'SELECT r.id, r.name, r.namespace_id, n.name AS namespace FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE r.id = ANY($1::bigint[])',
      [[...new Set(passed.map((p) => p.repository_id))]],
    );
    const byId = new Map(repos.rows.map((r) => [r.id, r]));
    for (const p of passed) {
      const repo = byId.get(p.repository_id);
      if (!repo) continue;
      rt.logs.log({
        kind: 'tag_expiration',
        performer: ANONYMOUS,
        namespaceId: repo.namespace_id,
        repositoryId: repo.id,
        metadata: { repo: repo.name, namespace: repo.namespace, tag: p.name, manifest_digest: p.manifest_digest, expiration_date: new Date(p.end_ms).toISOString() },
      });
    }
    total += passed.length;
  }
}
