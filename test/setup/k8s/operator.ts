/** Runs the operator exactly as `npm run operator` does (node dist/operator/main.js) against a test cluster. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, type TestCluster } from './cluster.js';

export class OperatorProcess {
  private constructor(
    private readonly proc: ChildProcess,
    readonly logFile: string,
  ) {}

  static async start(cluster: TestCluster, env: Record<string, string> = {}, name = 'operator'): Promise<OperatorProcess> {
    const logFile = join(cluster.dir, `${name}.log`);
    const out = createWriteStream(logFile);
    const proc = spawn(process.execPath, [join(ROOT, 'dist/operator/main.js')], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig, RESYNC_SECONDS: '3600', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    const op = new OperatorProcess(proc, logFile);
    const deadline = Date.now() + 30_000;
    while (!op.logs().includes('quay operator started')) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`operator did not start:\n${op.logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return op;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  logs(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}
