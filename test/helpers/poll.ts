/** Waiting in tests for a state the system reaches on its own (never for a fixed time). */

/** Calls `check` every `everyMs` until it returns a truthy value and returns that; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 120_000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
