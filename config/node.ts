/**
 * V8 flags the registry process runs with in production (npm start, the image's CMD, the operator's
 * Deployment, the benchmark). A 2 MB young generation keeps the resident set about a quarter smaller under
 * load (blob streams and per-request objects die young) for about the same throughput; measured in bench/.
 * package.json and Dockerfile repeat the flag: keep them in step.
 */
export const REGISTRY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/**
 * V8 flags the registry sets on itself at start (registry/main.ts), however it was started: NODE_OPTIONS
 * refuses them, and a cluster worker or a bare `node dist/registry/main.js` must have them too. V8 reads
 * them at each full garbage collection.
 * --heap-growing-percent=50: after a full collection V8 lets the old generation grow to 1.5× what survived
 * instead of a factor it derives from the allocation rate, up to 4×. The factor chosen during start-up (fast
 * allocation while modules load) held for a whole benchmark in a worker that never needed another full
 * collection: 27 MB live, old space at 80 MB, the process's peak RSS 150-210 MB. Promotion under load is
 * slow (tens of MB a minute), so the extra full collections cost little; measured in bench/registry.
 * --no-concurrent-array-buffer-sweeping: V8 counts ArrayBuffer bytes allocated since the last full collection
 * against that limit, and Node's HTTP parser copies every request-body piece into a new ArrayBuffer. Swept
 * concurrently, the dead ones were credited back late (later still on a busy machine), so a push's body bytes
 * alone passed the 1.5× limit and started a full collection every ~200 ms of a push (20-30 per 256 MiB push,
 * the old space flat). Swept at each scavenge instead, they are credited back at once; measured in bench/registry.
 */
export const REGISTRY_V8_RUNTIME_FLAGS: readonly string[] = ['--heap-growing-percent=50', '--no-concurrent-array-buffer-sweeping'];
