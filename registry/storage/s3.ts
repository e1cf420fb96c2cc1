/**
 * S3 and S3-compatible blob store (Quay's S3Storage, RadosGWStorage, RHOCSStorage).
 * An upload is a series of segment objects, one per request body (see blobstore.ts), so any replica can
 * append to it; commit copies a single segment server-side, or joins several with a multipart upload.
 */
import {
  S3Client,
  GetObjectCommand,
  HeadObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  PutObjectCommand,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Readable, Transform, pipeline } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { casPath, isMissingObject, type BlobStore, type ByteRange, type Segment, type StagedUpload } from './blobstore.js';
import { Unavailable } from '../model/errors.js';

export interface S3Options {
  driver: string;
  bucket: string;
  /** key prefix, without leading or trailing slash */
  prefix: string;
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
}

const MIN_PART = 5 * 1024 * 1024;
/** S3 refuses a single CopyObject above 5 GiB; larger copies go part by part. */
const MAX_COPY = 5 * 1024 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;

/** Errors of a connection to the storage service that is refused, cut or timed out (the service down or restarting). */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * The storage service unreachable, or answering 5xx after the SDK's retries, is the domain's Unavailable (503 in
 * every protocol); answers about the request itself (404, 403, a bad range) pass as they are.
 */
function storageUnavailableOr(err: unknown): unknown {
  const e = err as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } } | null;
  if (!e || err instanceof Unavailable) return err;
  const status = e.$metadata?.httpStatusCode ?? 0;
  const unreachable = (e.code !== undefined && CONNECTION_CODES.has(e.code)) || e.name === 'TimeoutError' || status >= 500;
  return unreachable ? new Unavailable('storage', 'The blob storage is unavailable; try again shortly') : err;
}

/**
 * An object's body as a plain stream (callers do not depend on the SDK's stream type) whose failure mid-body is
 * mapped like the requests' own: the service going away after the answer's head is Unavailable too, so a
 * response that has not begun yet is a 503, not a 500.
 */
function objectBody(body: Readable): Readable {
  const out = new PassThrough();
  body.on('error', (err) => out.destroy(storageUnavailableOr(err) as Error));
  out.once('close', () => body.destroy());
  return body.pipe(out);
}

export class S3BlobStore implements BlobStore {
  readonly driver: string;
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(opts: S3Options) {
    this.driver = opts.driver;
    this.bucket = opts.bucket;
    this.prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
    this.s3 = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials: opts.accessKeyId ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey ?? '' } : undefined,
      maxAttempts: 3,
      // Checksums of streamed bodies of unknown length are not supported by every S3 implementation.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    // Outermost, so it sees what is left after the SDK's own retries.
    this.s3.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          throw storageUnavailableOr(err);
        }
      },
      { step: 'initialize', name: 'storageUnavailable' },
    );
  }

  private key(rel: string): string {
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  private uploadDir(id: string): string {
    return this.key(`uploads/${id}/`);
  }

  private segmentKey(uploadId: string, segmentId: string): string {
    return `${this.uploadDir(uploadId)}${segmentId}`;
  }

  private async *list(prefix: string): AsyncIterable<_Object> {
    let token: string | undefined;
    do {
      const r = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) yield o;
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async writeSegment(uploadId: string, segmentId: string, body: Readable): Promise<number> {
    let written = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        cb(null, chunk);
      },
    });
    const source = pipeline(body, counter, () => undefined);
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: this.segmentKey(uploadId, segmentId), Body: source },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
    return written;
  }

  async deleteSegment(uploadId: string, segmentId: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.segmentKey(uploadId, segmentId) }));
  }

  async readSegments(uploadId: string, segments: readonly Segment[]): Promise<Readable> {
    const keys = segments.filter((s) => s.size > 0).map((s) => ({ key: this.segmentKey(uploadId, s.id), size: s.size }));
    const { s3, bucket } = this;
    async function* concat(): AsyncIterable<Buffer> {
      for (const seg of keys) {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: seg.key, Range: `bytes=0-${seg.size - 1}` }));
        for await (const chunk of objectBody(r.Body as Readable)) yield chunk as Buffer;
      }
    }
    return Readable.from(concat());
  }

  async commitUpload(uploadId: string, segments: readonly Segment[], digest: string): Promise<void> {
    const target = this.key(casPath(digest));
    const segs = segments.filter((s) => s.size > 0).map((s) => ({ key: this.segmentKey(uploadId, s.id), size: s.size }));
    if (segs.length === 0) {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: target, Body: Buffer.alloc(0) }));
    } else if (segs.length === 1 && segs[0].size <= MAX_COPY) {
      await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: target, CopySource: this.copySource(segs[0].key) }));
    } else if (segs.slice(0, -1).every((s) => s.size >= MIN_PART) && segs.every((s) => s.size <= MAX_COPY)) {
      await this.multipartCopy(target, segs);
    } else {
      const upload = new Upload({
        client: this.s3,
        params: { Bucket: this.bucket, Key: target, Body: await this.readSegments(uploadId, segments) },
        partSize: PART_SIZE,
        queueSize: 2,
        leavePartsOnError: false,
      });
      await upload.done();
    }
  }

  private copySource(key: string): string {
    return `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  private async multipartCopy(target: string, segs: Array<{ key: string; size: number }>): Promise<void> {
    const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: target }));
    try {
      const parts = [];
      for (let i = 0; i < segs.length; i++) {
        const r = await this.s3.send(new UploadPartCopyCommand({ Bucket: this.bucket, Key: target, UploadId, PartNumber: i + 1, CopySource: this.copySource(segs[i].key) }));
        parts.push({ PartNumber: i + 1, ETag: r.CopyPartResult?.ETag });
      }
      await this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  async deleteUpload(uploadId: string): Promise<void> {
    const keys: string[] = [];
    for await (const obj of this.list(this.uploadDir(uploadId))) keys.push(obj.Key!);
    await this.deleteKeys(keys);
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      if (batch.length === 1) await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: batch[0] }));
      else if (batch.length > 1) {
        await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      }
    }
  }

  async *listUploads(): AsyncIterable<StagedUpload> {
    const seen = new Map<string, Date>();
    const base = this.key('uploads/');
    for await (const obj of this.list(base)) {
      const id = obj.Key!.slice(base.length).split('/')[0];
      const modified = obj.LastModified ?? new Date(0);
      const prev = seen.get(id);
      if (!prev || prev < modified) seen.set(id, modified);
    }
    for (const [id, modified] of seen) yield { id, modified };
  }

  async exists(digest: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(casPath(digest)) }));
      return true;
    } catch (err) {
      if (isMissingObject(err)) return false;
      throw err;
    }
  }

  async read(digest: string, range?: ByteRange): Promise<Readable> {
    if (range && range.end < range.start) return Readable.from([]);
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(casPath(digest)), Range: range ? `bytes=${range.start}-${range.end}` : undefined }));
    return objectBody(r.Body as Readable);
  }

  async delete(digest: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(casPath(digest)) }));
  }

  async writeFile(path: string, body: Readable): Promise<number> {
    let written = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        cb(null, chunk);
      },
    });
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: this.key(path), Body: pipeline(body, counter, () => undefined), ContentType: 'application/json' },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
    return written;
  }

  async readFile(path: string): Promise<Readable> {
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
    return objectBody(r.Body as Readable);
  }

  async deleteFile(path: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
  }

  async signedFileUrl(path: string, seconds: number): Promise<string | null> {
    // The presigner is loaded with the first signature, as the S3 driver is with the first S3 configuration.
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }), { expiresIn: seconds });
  }

  blobUrl(digest: string, seconds: number): Promise<string | null> {
    return this.signedFileUrl(casPath(digest), seconds);
  }

  async check(): Promise<void> {
    const key = this.key(`health/${randomUUID()}`);
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: 'ok' }));
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const text = await r.Body!.transformToString();
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    if (text !== 'ok') throw new Error('S3 storage read back different bytes');
  }
}
