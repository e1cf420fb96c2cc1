/** The build REST calls the build e2e tests poll: a build's end and its log text, through /api/v1 as a user sees them. */
import type { RegistryProcess } from '../../helpers/registry.js';
import type { Api } from '../../integration/api/fixture.js';

const ENDED = ['complete', 'error', 'expired', 'cancelled'];

/** The build's status once it has ended; fails after timeoutMs with the registry's log tail. */
export async function waitBuildEnded(api: Api, reg: RegistryProcess, repo: string, uuid: string, timeoutMs = 300_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const b = await api.ok('GET', `/repository/${repo}/build/${uuid}/status`);
    if (ENDED.includes(b.phase)) return b;
    if (Date.now() > end) throw new Error(`build ${uuid} is ${b.phase} after ${timeoutMs} ms\n${reg.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The build's log entries as `type: message` lines. */
export async function buildLogText(api: Api, repo: string, uuid: string): Promise<string> {
  const l = await api.ok<{ logs: { message: string; type?: string }[] }>('GET', `/repository/${repo}/build/${uuid}/logs`);
  return l.logs.map((e) => `${e.type ?? ''}: ${e.message}`).join('\n');
}
