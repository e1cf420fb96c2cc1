/**
 * Executors start one short-lived worker per build (Quay's buildman/manager/executor.py). They are tried in
 * BUILD_MANAGER's EXECUTORS order: one is usable for a build when its namespace is whitelisted or falls in
 * the STAGED_ROLLOUT bucket (or neither is set), and when the job has at least MINIMUM_RETRY_THRESHOLD
 * retries left; one that fails to start is skipped for the next.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_SETUP_TIME_S, type ExecutorSettings } from '../config.js';

export interface WorkerStart {
  buildUuid: string;
  /** The registration JWT the worker presents (env TOKEN). */
  registrationJwt: string;
  namespace: string;
}

export interface Executor {
  readonly name: string;
  readonly settings: ExecutorSettings;
  /** Start a worker; returns its execution id. */
  start(w: WorkerStart): Promise<string>;
  /** Stop a worker (idempotent; unknown ids are ignored). */
  stop(executionId: string): Promise<void>;
  /** Workers of this executor alive now (counted against ALLOWED_WORKER_COUNT). */
  runningCount(): Promise<number>;
  /**
   * Get ready for the next builds (the local executor starts its standby agents): before the first one comes,
   * and with `buildWaiting` when every worker slot is taken and a build waits in the queue.
   */
  warm?(buildWaiting?: boolean): void;
  close(): Promise<void>;
}

export function setupTimeS(e: Executor): number {
  return e.settings.SETUP_TIME ?? DEFAULT_SETUP_TIME_S;
}

/** Quay's allowed_for_namespace: no filter, a whitelisted namespace, or the sha256 rollout bucket. */
export function allowedForNamespace(s: ExecutorSettings, namespace: string): boolean {
  const whitelist = s.NAMESPACE_WHITELIST;
  const rollout = s.STAGED_ROLLOUT;
  if (!whitelist && rollout === undefined) return true;
  if (whitelist?.includes(namespace)) return true;
  if (rollout !== undefined) {
    const digest = createHash('sha256').update(namespace).digest();
    return digest[digest.length - 1] < 256 * rollout;
  }
  return false;
}

/** Executors usable for a job, in order. */
export function candidates(executors: readonly Executor[], namespace: string, retriesRemaining: number): Executor[] {
  return executors.filter((e) => allowedForNamespace(e.settings, namespace) && (e.settings.MINIMUM_RETRY_THRESHOLD ?? 0) <= retriesRemaining);
}
