/**
 * BUILD_MANAGER resolved with Quay's defaults. Without BUILD_MANAGER, a registry with FEATURE_BUILD_SUPPORT
 * runs the ephemeral manager in `serve` with one local (popen) executor and an in-memory orchestrator: the
 * embedded default, one process. Several managers need ORCHESTRATOR (Redis).
 */
import type { QuayConfig } from '../../config/index.js';
import { normalizePrefix, type RedisOrchestratorConfig } from './orchestrator.js';

export interface ExecutorSettings {
  EXECUTOR: 'popen' | 'kubernetesPodman' | 'kubernetes' | 'ec2';
  NAME?: string;
  SETUP_TIME?: number;
  MINIMUM_RETRY_THRESHOLD?: number;
  NAMESPACE_WHITELIST?: string[];
  STAGED_ROLLOUT?: number;
  DEBUG?: boolean;
  [key: string]: unknown;
}

export interface BuildManagerSettings {
  kind: 'ephemeral' | 'external';
  allowedWorkerCount: number;
  /** null: in-memory (one process). */
  orchestrator: RedisOrchestratorConfig | null;
  prefix: string;
  executors: ExecutorSettings[];
  jobRegistrationTimeoutS: number;
  machineMaxTimeS: number;
  /** The gRPC address handed to workers and the audience of their JWTs. */
  buildmanHostname: string;
}

export const DEFAULT_JOB_REGISTRATION_TIMEOUT_S = 30;
export const DEFAULT_MACHINE_MAX_TIME_S = 7200;
/** Quay's SETUP_TIME fallback: seconds a scheduled worker has to register. */
export const DEFAULT_SETUP_TIME_S = 500;

export class BuildConfigError extends Error {}

function orchestratorConfig(raw: Record<string, unknown> | undefined): RedisOrchestratorConfig | null {
  if (!raw || Object.keys(raw).length === 0) return null;
  const keys = Object.keys(raw);
  const bad = keys.find((k) => k.endsWith('_PREFIX'));
  if (bad) throw new BuildConfigError(`BUILD_MANAGER ORCHESTRATOR: ${bad} is not allowed here; use ORCHESTRATOR_PREFIX`);
  const kinds = new Set(keys.map((k) => k.split('_')[0]));
  if (kinds.size !== 1) throw new BuildConfigError(`BUILD_MANAGER ORCHESTRATOR: keys of one backend only (REDIS_* or MEM_*), got ${keys.join(', ')}`);
  const kind = [...kinds][0];
  if (kind === 'MEM') return null;
  if (kind !== 'REDIS') throw new BuildConfigError(`BUILD_MANAGER ORCHESTRATOR: unknown backend ${kind} (REDIS_* or MEM_*)`);
  if (typeof raw.REDIS_HOST !== 'string' || raw.REDIS_HOST === '') throw new BuildConfigError('BUILD_MANAGER ORCHESTRATOR: REDIS_HOST is required');
  return {
    host: raw.REDIS_HOST,
    port: raw.REDIS_PORT === undefined ? 6379 : Number(raw.REDIS_PORT),
    password: (raw.REDIS_PASSWORD as string | undefined) ?? null,
    db: raw.REDIS_DB === undefined ? 0 : Number(raw.REDIS_DB),
    ssl: raw.REDIS_SSL === true,
    skipKeyspaceEventSetup: raw.REDIS_SKIP_KEYSPACE_EVENT_SETUP === true,
  };
}

/** The settings, or null when builds are off. */
export function buildManagerSettings(config: QuayConfig): BuildManagerSettings | null {
  if (!config.FEATURE_BUILD_SUPPORT) return null;
  const buildmanHostname = process.env.BUILDMAN_HOSTNAME || config.BUILDMAN_HOSTNAME || config.SERVER_HOSTNAME;
  const bm = config.BUILD_MANAGER;
  if (!bm) {
    return {
      kind: 'ephemeral',
      allowedWorkerCount: 1,
      orchestrator: null,
      prefix: '',
      executors: [{ EXECUTOR: 'popen', NAME: 'local' }],
      jobRegistrationTimeoutS: DEFAULT_JOB_REGISTRATION_TIMEOUT_S,
      machineMaxTimeS: DEFAULT_MACHINE_MAX_TIME_S,
      buildmanHostname,
    };
  }
  const [kind, c] = bm;
  let executors = (c.EXECUTORS ?? []) as ExecutorSettings[];
  if (executors.length === 0 && c.EXECUTOR) executors = [{ ...(c.EXECUTOR_CONFIG ?? {}), EXECUTOR: c.EXECUTOR as ExecutorSettings['EXECUTOR'] }];
  if (kind === 'ephemeral' && executors.length === 0) throw new BuildConfigError('BUILD_MANAGER: the ephemeral manager needs EXECUTORS');
  const names = new Set<string>();
  for (const e of executors) {
    const name = e.NAME ?? e.EXECUTOR;
    if (names.has(name)) throw new BuildConfigError(`BUILD_MANAGER EXECUTORS: NAME "${name}" is used twice`);
    names.add(name);
  }
  const orchestrator = orchestratorConfig(c.ORCHESTRATOR);
  return {
    kind,
    allowedWorkerCount: c.ALLOWED_WORKER_COUNT ?? 1,
    orchestrator,
    prefix: orchestrator ? normalizePrefix(c.ORCHESTRATOR_PREFIX) : '',
    executors,
    jobRegistrationTimeoutS: c.JOB_REGISTRATION_TIMEOUT ?? DEFAULT_JOB_REGISTRATION_TIMEOUT_S,
    machineMaxTimeS: c.MACHINE_MAX_TIME ?? DEFAULT_MACHINE_MAX_TIME_S,
    buildmanHostname,
  };
}
