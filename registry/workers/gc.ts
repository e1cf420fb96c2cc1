/** The garbage collection worker (Quay's gcworker): one GC pass per GARBAGE_COLLECTION_FREQUENCY on every replica. */
import type { Runtime } from '../runtime.js';
import { ANONYMOUS } from '../auth/principal.js';

export async function collectGarbage(rt: Runtime): Promise<void> {
  const report = await rt.gc.run();
  if (report.byRepository.size === 0) return;
  const repos = await rt.db.query<{ id: number; name: string; namespace_id: number; namespace: string }>(
    'SELECT r.id, r.name, r.namespace_id, n.name AS namespace FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE r.id = ANY($1::bigint[])',
    [[...report.byRepository.keys()]],
  );
  for (const r of repos.rows) {
    rt.logs.log({
      kind: 'garbage_collection',
      performer: ANONYMOUS,
      namespaceId: r.namespace_id,
      repositoryId: r.id,
      metadata: { repo: r.name, namespace: r.namespace, manifests_deleted: report.byRepository.get(r.id) },
    });
  }
}
