/**
 * A git server for the trigger tests: Debian's sshd on loopback, keys only, nothing but git (git-shell forced),
 * with an authorized_keys file the test fills with the deploy keys it trusts.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../setup/procs.js';

export interface GitSshd {
  port: number;
  /** Starts empty: no key can clone until the test writes one here. */
  authorizedKeys: string;
  stop(): Promise<void>;
}

export async function startGitSshd(dir: string): Promise<GitSshd> {
  const port = await freePort();
  const authorizedKeys = join(dir, 'authorized_keys');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
  writeFileSync(authorizedKeys, '');
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'ForceCommand git-shell -c "$SSH_ORIGINAL_COMMAND"',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  sshd.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  for (let i = 0; ; i++) {
    if (sshd.exitCode !== null) throw new Error(`sshd exited: ${log}`);
    if (/Server listening/.test(log)) break;
    if (i > 100) throw new Error(`sshd did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    authorizedKeys,
    async stop() {
      if (sshd.exitCode !== null) return;
      sshd.kill('SIGTERM');
      await new Promise((ok) => sshd.once('exit', ok));
    },
  };
}

/** Runs git with a fixed identity and returns its trimmed output. */
export const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    env: { ...process.env, GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'dev', GIT_COMMITTER_EMAIL: 'dev@example.com' },
  })
    .toString()
    .trim();
