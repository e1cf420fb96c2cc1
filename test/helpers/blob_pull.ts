/** Clients of a blob body that tests watch while it streams (proxy fill tests). */
import { createHash } from 'node:crypto';

/**
 * A client reading a blob body (or `range` of it): bytes so far, their digest at the end, whether the body
 * ended whole or was cut; `abort` goes away mid-body.
 */
export function startPull(url: string, token: string, range?: string) {
  const abort = new AbortController();
  const state = { received: 0, status: 0, contentRange: null as string | null, digest: '', ended: false, cut: false };
  const hash = createHash('sha256');
  const done = (async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...(range ? { range } : {}) }, signal: abort.signal });
    state.status = res.status;
    state.contentRange = res.headers.get('content-range');
    const reader = res.body!.getReader();
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      state.received += value.length;
      hash.update(value);
    }
    state.digest = `sha256:${hash.digest('hex')}`;
    state.ended = true;
  })();
  done.catch(() => {
    state.cut = true;
  });
  return { state, done, abort: () => abort.abort() };
}
