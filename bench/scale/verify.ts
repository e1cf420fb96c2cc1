/**
 * After the load: every acknowledged push is pulled back directly from the surviving replicas (spread over
 * them), its manifest by tag compared byte for byte and every blob, downloaded through the registry's
 * redirect, hashed against its digest.
 */
import { Client, Registry, type Image, type RequestFailure } from './load.js';

export interface VerifyResult {
  checked: number;
  /** One entry per failed request (an image with a missing or corrupt part fails there). */
  problems: RequestFailure[];
}

export async function verifyImages(
  images: Image[],
  replicas: Array<{ url: string }>,
  o: { service: string; admin: { username: string; password: string }; concurrency?: number },
): Promise<VerifyResult> {
  if (replicas.length === 0) throw new Error('no replica to verify against');
  const concurrency = o.concurrency ?? 8;
  const client = new Client(concurrency);
  const sessions = replicas.map((r) => new Registry(client, r.url, o.service, o.admin));
  let next = 0;
  let checked = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < images.length; i = next++) {
      const recorded = client.failures.length;
      try {
        await sessions[i % sessions.length].pull(images[i]);
      } catch (e) {
        // A failed request is recorded by the client; anything else is recorded here.
        if (client.failures.length === recorded) {
          const at = client.now();
          client.failures.push({
            kind: 'manifest GET',
            method: 'GET',
            path: `${images[i].repo}:${images[i].tag}`,
            start: at,
            end: at,
            status: null,
            upstream: '',
            error: (e as Error).message,
          });
        }
      }
      checked++;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    await client.close();
  }
  return { checked, problems: client.failures };
}
