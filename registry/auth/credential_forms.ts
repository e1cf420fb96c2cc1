/**
 * The ways a user copies a credential (robot token, app token, OAuth token) into a client, as Quay's
 * credentials dialog offers them: docker/podman login commands, a Docker config.json, a Kubernetes pull
 * secret, an rkt auth file and the Mesos bundle (a tar.gz holding .docker/config.json).
 */
import { gzipSync } from 'node:zlib';
import { lazyModule } from '../lazy.js';

const tarStream = lazyModule<typeof import('tar-stream')>('tar-stream');

export interface CredentialForms {
  username: string;
  password: string;
  docker_login: string;
  podman_login: string;
  docker_config: string;
  kubernetes_secret: string;
  kubernetes_secret_name: string;
  rkt_auth: string;
  mesos_bundle_base64: string;
  mesos_bundle_filename: string;
}

/** A file-name prefix from the username (`org+bot` → `org-bot`). */
function escaped(username: string): string {
  return username.replace(/[^a-zA-Z0-9]/g, '-').replace(/^-/, '');
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const p = tarStream().pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((res, rej) => {
    p.on('end', () => res());
    p.on('error', rej);
  });
  for (const [name, contents] of Object.entries(files)) p.entry({ name, mode: 0o600 }, contents);
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

export async function credentialForms(host: string, username: string, password: string): Promise<CredentialForms> {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  const dockerConfig = JSON.stringify({ auths: { [host]: { auth, email: '' } } }, null, 2);
  const secretName = `${escaped(username)}-pull-secret`;
  const kubernetes = [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${secretName}`,
    'data:',
    `  .dockerconfigjson: ${Buffer.from(dockerConfig).toString('base64')}`,
    'type: kubernetes.io/dockerconfigjson',
    '',
  ].join('\n');
  const rkt = JSON.stringify({ rktKind: 'auth', rktVersion: 'v1', domains: [host], type: 'basic', credentials: { user: username, password } }, null, 2);
  return {
    username,
    password,
    docker_login: `docker login -u=${shellQuote(username)} -p=${shellQuote(password)} ${host}`,
    podman_login: `podman login -u=${shellQuote(username)} -p=${shellQuote(password)} ${host}`,
    docker_config: dockerConfig,
    kubernetes_secret: kubernetes,
    kubernetes_secret_name: secretName,
    rkt_auth: rkt,
    mesos_bundle_base64: (await tarGz({ '.docker/config.json': dockerConfig })).toString('base64'),
    mesos_bundle_filename: `${escaped(username)}-auth.tar.gz`,
  };
}
