/** Shared by the quota tests with real clients. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ClientSandbox } from '../../setup/tools.js';

export const MiB = 1024 * 1024;

/** buildah: FROM scratch with `size` bytes of random (incompressible) data, tagged `ref`. */
export async function buildRandomImage(sb: ClientSandbox, ref: string, size: number): Promise<void> {
  const ctx = join(sb.dir, `ctx-${randomBytes(4).toString('hex')}`);
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'data.bin'), randomBytes(size));
  writeFileSync(join(ctx, 'Containerfile'), 'FROM scratch\nCOPY data.bin /data.bin\n');
  await sb.run('buildah', ['--storage-driver', 'vfs', 'bud', '--isolation', 'chroot', '-f', join(ctx, 'Containerfile'), '-t', ref, ctx]);
}
