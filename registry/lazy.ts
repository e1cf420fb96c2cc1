/**
 * A library loaded on its first use instead of at start. Every module loaded stays in each process's memory
 * (its source, code and objects: 0.2-1 MB of heap per library below), so what only rare requests need (the
 * scanner's version and CVSS libraries, the proxy's public-suffix list, JSONPath templates, a browser
 * detector) is not held by every worker that never serves them. Only for CommonJS packages (`require`).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazyModule<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(specifier) as T);
}
