/**
 * The builder agent as a program of its own (what the local executor spawns): the same agent as
 * `main.js builder`, without loading main.js's modules (configuration schema, cluster, TLS), which a worker
 * never uses and which cost every build their start-up time.
 */
import { runAgent } from './agent.js';

process.exit(await runAgent(process.env));
