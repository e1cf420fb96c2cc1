/**
 * V8 flags the registry process runs with in production (npm start, the image's CMD, the operator's
 * Deployment, the benchmark). A 2 MB young generation keeps the resident set about a quarter smaller under
 * load (blob streams and per-request objects die young) for about the same throughput; measured in bench/.
 * package.json and Dockerfile repeat the flag: keep them in step.
 */
export const REGISTRY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
