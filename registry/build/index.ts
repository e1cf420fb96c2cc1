/**
 * Assembles a build manager from the runtime: its executors from BUILD_MANAGER's EXECUTORS, the gRPC server
 * and the sources builds-api provides (trigger deploy keys, uploaded packs).
 */
import type { Runtime } from '../runtime.js';
import { BuildConfigError, type BuildManagerSettings } from './config.js';
import { BuildManager, type BuildSources } from './manager.js';
import type { Executor } from './executors/index.js';
import { LocalExecutor } from './executors/local.js';
import { KubernetesExecutor } from './executors/kubernetes.js';
import { loadTriggerDeployKey } from '../model/triggers.js';

export interface ManagerOptions {
  /** gRPC listen address (default 0.0.0.0) and port (0: any free port). */
  grpcHost?: string;
  grpcPort: number;
  /** Where local workers' output goes. */
  workerLogDir?: string | null;
}

function defaultSources(rt: Runtime): BuildSources {
  return {
    deployKey: (triggerUuid) => loadTriggerDeployKey(rt.db, triggerUuid, rt.config),
    async uploadUrl(resourceKey) {
      return `${rt.config.PREFERRED_URL_SCHEME}://${rt.config.SERVER_HOSTNAME}/userfiles/${encodeURIComponent(resourceKey)}`;
    },
  };
}

function executorsFor(rt: Runtime, settings: BuildManagerSettings, grpcPort: number, workerLogDir: string | null): Executor[] {
  const registryHost = rt.config.SERVER_HOSTNAME.replace(/:\d+$/, '');
  return settings.executors.map((e) => {
    switch (e.EXECUTOR) {
      case 'popen':
        return new LocalExecutor(e, {
          server: `127.0.0.1:${grpcPort}`,
          insecure: rt.config.PREFERRED_URL_SCHEME === 'http',
          registryHostname: rt.config.SERVER_HOSTNAME,
          allowedHosts: [...new Set([registryHost, ...(rt.config.SSRF_ALLOWED_HOSTS ?? [])])],
          logDir: workerLogDir,
        });
      case 'kubernetesPodman':
      case 'kubernetes':
        return new KubernetesExecutor(e, { config: rt.config, settings, manager: rt.config.SERVER_HOSTNAME });
      default:
        throw new BuildConfigError(`BUILD_MANAGER EXECUTORS: the ${e.EXECUTOR} executor is not supported by this registry (use popen, kubernetesPodman or kubernetes)`);
    }
  });
}

/** Listen, then take work. */
export async function startBuildManager(rt: Runtime, settings: BuildManagerSettings, opts: ManagerOptions, sources: BuildSources = defaultSources(rt)): Promise<BuildManager> {
  if (!rt.buildOrchestrator) throw new BuildConfigError('builds are not enabled (FEATURE_BUILD_SUPPORT)');
  // Executors need the gRPC port: listen first with a manager that has no executors yet, then add them.
  const executors: Executor[] = [];
  const manager = new BuildManager(rt, settings, rt.buildOrchestrator, executors, sources);
  const port = await manager.listen(opts.grpcHost ?? '0.0.0.0', opts.grpcPort);
  executors.push(...executorsFor(rt, settings, port, opts.workerLogDir ?? null));
  await manager.start();
  return manager;
}
