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
import { grpcTlsChoice, workerCaBundle, type GrpcTlsOptions } from './grpc_tls.js';

export interface ManagerOptions {
  /** gRPC listen address (default 0.0.0.0) and port (0: any free port). */
  grpcHost?: string;
  grpcPort: number;
  /** Where local workers' output goes. */
  workerLogDir?: string | null;
  /** The pair the registry serves HTTPS with; gRPC uses it too unless BUILDMAN_GRPC_TLS=false (see grpc_tls.ts). */
  tls?: GrpcTlsOptions | null;
}

function defaultSources(rt: Runtime): BuildSources {
  return {
    deployKey: (triggerUuid) => loadTriggerDeployKey(rt.db, triggerUuid, rt.config),
    async uploadUrl(resourceKey) {
      return `${rt.config.PREFERRED_URL_SCHEME}://${rt.config.SERVER_HOSTNAME}/userfiles/${encodeURIComponent(resourceKey)}`;
    },
  };
}

function executorsFor(rt: Runtime, settings: BuildManagerSettings, grpcPort: number, workerLogDir: string | null, tls: GrpcTlsOptions | null): Executor[] {
  const registryHost = rt.config.SERVER_HOSTNAME.replace(/:\d+$/, '');
  return settings.executors.map((e) => {
    const caCert = workerCaBundle(e.CA_CERT, tls, rt.configDir);
    switch (e.EXECUTOR) {
      case 'popen':
        return new LocalExecutor(e, {
          server: `127.0.0.1:${grpcPort}`,
          // The local worker dials loopback but checks the certificate against the registry's name.
          grpcTls: tls ? { serverName: registryHost } : null,
          caCert,
          insecure: rt.config.PREFERRED_URL_SCHEME === 'http',
          registryHostname: rt.config.SERVER_HOSTNAME,
          allowedHosts: [...new Set([registryHost, ...(rt.config.SSRF_ALLOWED_HOSTS ?? [])])],
          logDir: workerLogDir,
          allowedWorkers: settings.allowedWorkerCount,
          warn: (message) => rt.log.warn(message),
        });
      case 'kubernetesPodman':
      case 'kubernetes':
        return new KubernetesExecutor(e, { config: rt.config, settings, manager: rt.config.SERVER_HOSTNAME, caCert });
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
  const tls = grpcTlsChoice(opts.tls ?? null);
  const port = await manager.listen(opts.grpcHost ?? '0.0.0.0', opts.grpcPort, tls);
  executors.push(...executorsFor(rt, settings, port, opts.workerLogDir ?? null, tls));
  await manager.start();
  return manager;
}
