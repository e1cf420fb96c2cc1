/** Builds the blob store named by DISTRIBUTED_STORAGE_CONFIG / DISTRIBUTED_STORAGE_PREFERENCE. */
import { join } from 'node:path';
import type { QuayConfig } from '../../config/index.js';
import type { BlobStore } from './blobstore.js';
import { FsBlobStore } from './fs.js';

export type { BlobStore, ByteRange, ReadOptions, Segment } from './blobstore.js';

const str = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v));

/** The S3 driver (and the AWS SDK) is loaded only when a configuration uses it. */
export async function createBlobStore(config: QuayConfig, dataDir: string): Promise<BlobStore> {
  const locations = config.DISTRIBUTED_STORAGE_CONFIG;
  if (!locations || Object.keys(locations).length === 0) return new FsBlobStore(join(dataDir, 'blobs'));
  const id = config.DISTRIBUTED_STORAGE_PREFERENCE?.[0] ?? Object.keys(locations)[0];
  const [driver, p] = locations[id];
  switch (driver) {
    case 'LocalStorage':
      return new FsBlobStore(String(p.storage_path));
    case 'S3Storage':
    case 'STSS3Storage': {
      const { S3BlobStore } = await import('./s3.js');
      const host = str(p.host);
      const port = str(p.port);
      const secure = p.is_secure === undefined ? true : Boolean(p.is_secure);
      const endpoint = str(p.endpoint_url) ?? (host ? `${secure ? 'https' : 'http'}://${host}${port ? `:${port}` : ''}` : undefined);
      return new S3BlobStore({
        driver,
        bucket: String(p.s3_bucket),
        prefix: str(p.storage_path) ?? '',
        endpoint,
        region: str(p.s3_region) ?? 'us-east-1',
        accessKeyId: str(p.s3_access_key),
        secretAccessKey: str(p.s3_secret_key),
        forcePathStyle: endpoint !== undefined,
      });
    }
    default: {
      // RadosGW, RHOCS (NooBaa) and IBM COS: S3-compatible with hostname/port/is_secure.
      const { S3BlobStore } = await import('./s3.js');
      const secure = p.is_secure === undefined ? true : Boolean(p.is_secure);
      const port = str(p.port);
      return new S3BlobStore({
        driver,
        bucket: String(p.bucket_name),
        prefix: str(p.storage_path) ?? '',
        endpoint: `${secure ? 'https' : 'http'}://${p.hostname}${port ? `:${port}` : ''}`,
        region: str(p.region) ?? 'us-east-1',
        accessKeyId: str(p.access_key),
        secretAccessKey: str(p.secret_key),
        forcePathStyle: true,
      });
    }
  }
}
