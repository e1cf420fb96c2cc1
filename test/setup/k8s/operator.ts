/** Runs the operator exactly as `npm run operator` does (node dist/operator/main.js) against a test cluster. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, type TestCluster } from './cluster.js';
import { startProcess, type ManagedProcess } from '../procs.js';

export class OperatorProcess {
  private constructor(
    private readonly proc: ManagedProcess,
    readonly logFile: string,
  ) {}

  static async start(cluster: TestCluster, env: Record<string, string> = {}, name = 'operator', nodeArgs: string[] = []): Promise<OperatorProcess> {
    const logFile = join(cluster.dir, `${name}.log`);
    const proc = startProcess({
      name: 'quay-operator',
      bin: process.execPath,
      args: [...nodeArgs, join(ROOT, 'dist/operator/main.js')],
      logFile,
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig, RESYNC_SECONDS: '3600', ...env },
    });
    const op = new OperatorProcess(proc, logFile);
    const deadline = Date.now() + 30_000;
    while (!op.logs().includes('quay operator started')) {
      if (!proc.running() || Date.now() > deadline) throw new Error(`operator did not start:\n${op.logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return op;
  }

  get pid(): number {
    return this.proc.pid;
  }

  logs(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    await this.proc.stop(10_000);
  }
}
