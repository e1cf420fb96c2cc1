/**
 * Removes abandoned uploads: sessions untouched for longer than the threshold, staged bytes without a session,
 * build-pack files (filedrop) older than the threshold that no build names, and the record of sessions
 * finished longer ago than that.
 */
import type { Runtime } from '../runtime.js';

export async function cleanupUploads(rt: Runtime, maxAgeMs: number): Promise<{ sessions: number; staged: number; userfiles: number }> {
  const cutoff = new Date(Date.now() - maxAgeMs);
  const expired = await rt.db.query<{ id: string }>('DELETE FROM blob_upload WHERE updated_at < $1 RETURNING id', [cutoff]);
  for (const { id } of expired.rows) await rt.store.deleteUpload(id);
  await rt.db.query('DELETE FROM blob_upload_finished WHERE finished_at < $1', [cutoff]);
  let staged = 0;
  for await (const u of rt.store.listUploads()) {
    if (u.modified >= cutoff) continue;
    const live = await rt.db.query('SELECT 1 FROM blob_upload WHERE id::text = $1', [u.id]);
    if (live.rows.length === 0) {
      await rt.store.deleteUpload(u.id);
      staged++;
    }
  }
  const userfiles = await rt.userfiles.expireUnused(cutoff);
  if (expired.rows.length > 0 || staged > 0 || userfiles > 0) rt.log.info({ sessions: expired.rows.length, staged, userfiles }, 'removed abandoned uploads');
  return { sessions: expired.rows.length, staged, userfiles };
}
