/**
 * A private containerd daemon for `ctr`: every ctr image command (pull, push, even `content fetch`) goes through a
 * daemon's content store, so a test starts one of its own: root and state under a temp dir, its gRPC socket there
 * too (nothing on TCP), the native snapshotter (no overlay mounts needed to unpack), CRI and the other plugins a
 * registry client never uses disabled. Needs root, as containerd does.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, waitUntil, type ManagedProcess } from '../setup/procs.js';
import { runTool, tool, type RunResult } from '../setup/tools.js';

export interface Containerd {
  /** Runs ctr against this daemon (namespace `quay-ts`); fails unless `allowFail`. */
  ctr(args: string[], o?: { allowFail?: boolean }): Promise<RunResult>;
  stop(): Promise<void>;
}

const UNUSED_PLUGINS = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.cri.v1.images',
  'io.containerd.cri.v1.runtime',
  'io.containerd.podsandbox.controller.v1.podsandbox',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.erofs',
  'io.containerd.nri.v1.nri',
];

export async function startContainerd(): Promise<Containerd> {
  // A short path: a unix socket path must stay under 108 bytes, whatever the checkout's path is.
  const dir = mkdtempSync(join(tmpdir(), 'qts-ctrd-'));
  const socket = join(dir, 'c.sock');
  writeFileSync(
    join(dir, 'config.toml'),
    [
      'version = 3',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      `disabled_plugins = ${JSON.stringify(UNUSED_PLUGINS)}`,
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      // The transfer service (ctr's default path) unpacks only into the snapshotters listed here.
      '[[plugins."io.containerd.transfer.v1.local".unpack_config]]',
      '  platform = "linux/amd64"',
      '  snapshotter = "native"',
      '',
    ].join('\n'),
  );
  const proc: ManagedProcess = startProcess({
    name: 'containerd',
    bin: tool('containerd'),
    args: ['--config', join(dir, 'config.toml')],
    logFile: join(dir, 'containerd.log'),
  });
  await waitUntil(proc, 'its socket to answer', async () => existsSync(socket) && (await runTool('ctr', ['--address', socket, 'version'], { allowFail: true })).code === 0);
  return {
    ctr: (args, o = {}) => runTool('ctr', ['--address', socket, '--namespace', 'quay-ts', ...args], { allowFail: o.allowFail }),
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
