/**
 * The security worker: indexing passes every SECURITY_SCANNER_INDEXING_INTERVAL seconds on every replica
 * (claims never overlap), and, for the built-in scanner, re-importing SECURITY_SCANNER_OSV_DB_PATH when its
 * files change.
 */
import type { Runtime } from '../runtime.js';
import { vulnerabilityOf } from '../scan/report.js';

/** Manifests claimed per batch; a pass keeps claiming batches until none is left or the time is up. */
const BATCH = 10;

export async function runIndexing(rt: Runtime, budgetMs = rt.config.SECURITY_SCANNER_INDEXING_INTERVAL * 1000 * 4): Promise<number> {
  const until = Date.now() + budgetMs;
  let indexed = 0;
  for (;;) {
    const pass = await rt.secscan.indexPass(BATCH);
    indexed += pass.completed.length;
    for (const m of pass.completed) await rt.secscan.notifyFirstIndex(m);
    if (pass.claimed === 0 || Date.now() > until) return indexed;
  }
}

export async function runOsvImport(rt: Runtime): Promise<void> {
  const location = rt.config.SECURITY_SCANNER_OSV_DB_PATH;
  if (!location || !rt.builtinScanner || rt.secscan.backend !== rt.builtinScanner) return;
  const result = await rt.builtinScanner.importIfChanged(location);
  if (result) {
    // OS packages' distribution is shown in a vulnerability's metadata; events carry only id, text, link, priority and fix.
    await rt.secscan.notifyNewMatches(result.newMatches, (m) => vulnerabilityOf(m.record, m.package, m.fixedBy, null));
    rt.log.info({ advisories: result.advisories, changed: result.changed, removed: result.removed, newMatches: result.newMatches.length }, 'OSV database imported');
  }
}
