/**
 * The builder agent as a program of its own (what the local executor spawns): the same agent as
 * `main.js builder`, without loading main.js's modules (configuration schema, cluster, TLS), which a worker
 * never uses and which cost every build their start-up time.
 *
 * JOB_FROM_STDIN=true makes it a standby agent: started before there is a build, it loads its modules and
 * connects to the manager holding no credentials, then reads its one job from stdin, a JSON line
 * `{"TOKEN": <registration JWT>, "BUILD_UUID": <uuid>}`, and runs that build. End of input before a job
 * (the manager stopped or died) ends it. While it waits, it warms up the code path of a build's first steps
 * (agent.ts warmUp).
 */
import { connectAgent, runAgent, warmUp } from './agent.js';
import { readJob } from './standby.js';

if (process.env.JOB_FROM_STDIN === 'true') {
  const client = connectAgent(process.env);
  // Connect now, so that the build's first call finds the channel ready (a failure here is retried by that call).
  client?.waitForReady(Date.now() + 30_000, () => undefined);
  // Not awaited: a job arriving meanwhile starts at once.
  void warmUp(client, process.env);
  const job = await readJob(process.stdin);
  if (!job) {
    client?.close();
    process.exit(0);
  }
  // What the agent runs (buildah, git) carries its build's uuid, as the workers of a cold start do.
  process.env.BUILD_UUID = job.BUILD_UUID;
  process.exit(await runAgent({ ...process.env, ...job }, client));
}
process.exit(await runAgent(process.env));
