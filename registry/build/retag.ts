/**
 * A build's extra tags, given by the registry's own API: the manifest buildah pushed under the first tag is read
 * back and PUT under each other tag (no blob is sent again). One `buildah push` per extra tag instead built into
 * the local store first and started a process per tag that reopened the store and checked every blob with the
 * registry. Authenticated with the build's push token (Basic `$token`), which may write the build's repository only.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { MANIFEST_ACCEPT } from '../oci/mediatypes.js';

/** A manifest is small; a registry answering more is not answering a manifest. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const TIMEOUT_MS = 60_000;

export interface RegistryTarget {
  /** `host[:port]` of the registry. */
  registry: string;
  /** `namespace/name`. */
  repository: string;
  /** Plain http (the registry's PREFERRED_URL_SCHEME is http). */
  insecure: boolean;
  /** PEM trusted beside the system's CAs. */
  ca?: string;
  pushToken: string;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function call(t: RegistryTarget, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
  const url = new URL(path, `${t.insecure ? 'http' : 'https'}://${t.registry}`);
  const auth = `Basic ${Buffer.from(`$token:${t.pushToken}`).toString('base64')}`;
  const options = {
    method,
    headers: { ...headers, authorization: auth, ...(body ? { 'content-length': String(body.length) } : {}) },
    timeout: TIMEOUT_MS,
    ...(t.ca && !t.insecure ? { ca: [...rootCertificates, t.ca] } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (t.insecure ? httpRequest : httpsRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_MANIFEST_BYTES) req.destroy(new Error(`the registry answered ${method} ${url.pathname} with over ${MAX_MANIFEST_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`the registry did not answer ${method} ${url.pathname} within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The registry's error text of a refused call (its `errors[0].message` when it sent one). */
function refusal(what: string, r: Reply): Error {
  let detail = '';
  try {
    detail = (JSON.parse(r.body.toString('utf8')) as { errors?: { message?: string }[] }).errors?.[0]?.message ?? '';
  } catch {
    // not the registry's JSON
  }
  return new Error(`${what}: HTTP ${r.status}${detail ? ` (${detail})` : ''}`);
}

/** Read the manifest of `from` once; returns a function that puts it under one more tag. */
export async function manifestOf(t: RegistryTarget, from: string): Promise<(tag: string) => Promise<void>> {
  const got = await call(t, 'GET', `/v2/${t.repository}/manifests/${encodeURIComponent(from)}`, { accept: MANIFEST_ACCEPT });
  if (got.status !== 200) throw refusal(`reading the manifest of ${from}`, got);
  const contentType = String(got.headers['content-type'] ?? '')
    .split(';')[0]
    .trim();
  if (!contentType) throw new Error(`the manifest of ${from} came without a content type`);
  return async (tag) => {
    const put = await call(t, 'PUT', `/v2/${t.repository}/manifests/${encodeURIComponent(tag)}`, { 'content-type': contentType }, got.body);
    if (put.status !== 201) throw refusal(`tagging ${tag}`, put);
  };
}
