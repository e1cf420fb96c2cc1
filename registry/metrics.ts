/** Prometheus metrics (served at /metrics). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Readable } from 'node:stream';
import type { BlobStore, ByteRange, Segment } from './storage/index.js';
import type { ByteLru } from './cache/lru.js';
import type { CacheCoherence } from './cache/coherence.js';
import { serverMetrics, shareMetrics, workerIndex } from './cluster.js';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'quay_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'quay_http_request_duration_seconds',
    help: 'HTTP request latency by route and method',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly bytesReceived = new Counter({ name: 'quay_http_bytes_received_total', help: 'Blob bytes received in uploads', registers: [this.registry] });
  readonly bytesSent = new Counter({ name: 'quay_http_bytes_sent_total', help: 'Response body bytes sent', registers: [this.registry] });
  readonly uploadDuration = new Histogram({
    name: 'quay_blob_upload_request_duration_seconds',
    help: 'Duration of requests that carry blob bytes (PATCH, PUT, single POST)',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly storageDuration = new Histogram({
    name: 'quay_storage_operation_duration_seconds',
    help: 'Blob store operation latency by driver and operation',
    labelNames: ['driver', 'operation'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [this.registry],
  });

  readonly queueJobs = new Counter({
    name: 'quay_queue_jobs_total',
    help: 'Work queue items handled, by queue and outcome (done, retry, postponed, error, gave_up, lease_lost)',
    labelNames: ['queue', 'outcome'],
    registers: [this.registry],
  });
  readonly queueJobDuration = new Histogram({
    name: 'quay_queue_job_duration_seconds',
    help: 'Time a handler spent on one work queue item',
    labelNames: ['queue'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 120],
    registers: [this.registry],
  });
  readonly notificationDeliveries = new Counter({
    name: 'quay_notification_deliveries_total',
    help: 'Notification deliveries by method and outcome (success, failure, filtered, disabled, deleted)',
    labelNames: ['method', 'outcome'],
    registers: [this.registry],
  });
  readonly notificationLatency = new Histogram({
    name: 'quay_notification_delivery_latency_seconds',
    help: 'Time from the event (its commit) to a successful delivery, by method',
    labelNames: ['method'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly mirrorSyncs = new Counter({
    name: 'quay_repository_mirror_syncs_total',
    help: 'Repository mirror sync runs finished by this process, by result (success, fail, cancel)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly mirrorSyncDuration = new Histogram({
    name: 'quay_repository_mirror_sync_duration_seconds',
    help: 'Duration of repository mirror sync runs, by result',
    labelNames: ['result'],
    buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });
  readonly mirrorTags = new Counter({
    name: 'quay_repository_mirror_tags_total',
    help: 'Tags handled by repository mirror syncs, by result (copied, unchanged, failed)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly mirrorLastSuccess = new Gauge({
    name: 'quay_repository_mirror_last_success_timestamp_seconds',
    help: 'When a sync run of this process last succeeded (Unix time; 0 before the first)',
    registers: [this.registry],
  });
  readonly mirrorSyncsRunning = new Gauge({
    name: 'quay_repository_mirror_syncs_running',
    help: 'Repository mirror sync runs in progress in this process',
    registers: [this.registry],
  });
  private depthSource: (() => Promise<Array<{ queue: string; waiting: number; processing: number }>>) | null = null;
  readonly queueDepth = new Gauge({
    name: 'quay_queue_items',
    help: 'Work queue items by queue and state (waiting, processing), read from the database at scrape time',
    labelNames: ['queue', 'state'],
    registers: [this.registry],
    // Read from the database: every worker process reports the same numbers.
    aggregator: 'max',
    collect: async () => {
      if (!this.depthSource) return;
      this.queueDepth.reset();
      for (const d of await this.depthSource()) {
        this.queueDepth.set({ queue: d.queue, state: 'waiting' }, d.waiting);
        this.queueDepth.set({ queue: d.queue, state: 'processing' }, d.processing);
      }
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'quay_' });
    // Summed over worker processes, quay_process_resident_memory_bytes is the server's; this is each one's.
    new Gauge({
      name: 'quay_worker_resident_memory_bytes',
      help: 'Resident memory of each HTTP worker process (serve --workers), by worker index and pid',
      labelNames: ['worker', 'pid'],
      registers: [this.registry],
      collect() {
        this.set({ worker: String(workerIndex()), pid: String(process.pid) }, process.memoryUsage.rss());
      },
    });
    shareMetrics(this.registry);
  }

  /** The /metrics text: the whole server's (all worker processes) under `serve --workers`. */
  text(): Promise<string> {
    return serverMetrics(this.registry);
  }

  /**
   * The in-process caches: bytes held and their bound, entries, lookups by result (hit, miss), evictions;
   * whether the notification path is confirmed (caches served) and how often it emptied them.
   */
  watchCaches(caches: ByteLru<unknown>[], coherence: CacheCoherence): void {
    const gauge = (name: string, help: string, labelNames: string[], read: (g: Gauge) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          read(this as unknown as Gauge);
        },
      });
    gauge('quay_cache_bytes', 'Bytes held by each in-process cache', ['cache'], (g) => caches.forEach((c) => g.set({ cache: c.name }, c.bytes)));
    gauge('quay_cache_max_bytes', 'The byte bound of each in-process cache', ['cache'], (g) => caches.forEach((c) => g.set({ cache: c.name }, c.maxBytes)));
    gauge('quay_cache_entries', 'Entries in each in-process cache', ['cache'], (g) => caches.forEach((c) => g.set({ cache: c.name }, c.size)));
    const counter = (name: string, help: string, labelNames: string[], read: (c: Counter) => void) =>
      new Counter({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          (this as unknown as Counter).reset();
          read(this as unknown as Counter);
        },
      });
    counter('quay_cache_lookups_total', 'Cache lookups by cache and result (hit, miss)', ['cache', 'result'], (m) =>
      caches.forEach((c) => {
        m.inc({ cache: c.name, result: 'hit' }, c.hits);
        m.inc({ cache: c.name, result: 'miss' }, c.misses);
      }),
    );
    counter('quay_cache_evictions_total', 'Entries pushed out of each cache by its byte bound', ['cache'], (m) => caches.forEach((c) => m.inc({ cache: c.name }, c.evictions)));
    counter('quay_cache_invalidations_total', "Cache changes applied (notifications and this process's own writes)", [], (m) => m.inc(coherence.invalidations));
    counter('quay_cache_resets_total', 'Times the caches were emptied because notifications may have been missed', [], (m) => m.inc(coherence.resets));
    counter('quay_cache_fences_total', 'Write fences sent (NOTIFYs that writes wait for every live process to acknowledge; concurrent writes share one)', [], (m) =>
      m.inc(coherence.fencesSent),
    );
    gauge('quay_cache_peers', 'Other processes (workers and replicas) whose acknowledgement a write fence waits for', [], (g) => g.set(coherence.peerCount));
    gauge('quay_cache_trusted', '1 while the cache notification path is confirmed by heartbeats (caches are served), 0 otherwise', [], (g) => g.set(coherence.trusted() ? 1 : 0));
  }

  /** Where the queue depth gauge reads from (the runtime's queues). */
  watchQueues(source: () => Promise<Array<{ queue: string; waiting: number; processing: number }>>): void {
    this.depthSource = source;
  }

  /** Wrap a blob store so that every operation is timed. */
  instrument(store: BlobStore): BlobStore {
    const h = this.storageDuration;
    const timed = <T>(operation: string, p: () => Promise<T>): Promise<T> => {
      const end = h.startTimer({ driver: store.driver, operation });
      return p().finally(() => end());
    };
    return {
      driver: store.driver,
      writeSegment: (id: string, segmentId: string, body: Readable) => timed('write_segment', () => store.writeSegment(id, segmentId, body)),
      ...(store.segmentFile ? { segmentFile: (id: string, segmentId: string) => store.segmentFile!(id, segmentId) } : {}),
      deleteSegment: (id: string, segmentId: string) => timed('delete_segment', () => store.deleteSegment(id, segmentId)),
      readSegments: (id: string, segments: readonly Segment[]) => timed('read_segments', () => store.readSegments(id, segments)),
      commitUpload: (id: string, segments: readonly Segment[], digest: string) => timed('commit_upload', () => store.commitUpload(id, segments, digest)),
      deleteUpload: (id: string) => timed('delete_upload', () => store.deleteUpload(id)),
      listUploads: () => store.listUploads(),
      exists: (digest: string) => timed('exists', () => store.exists(digest)),
      read: (digest: string, range?: ByteRange) => timed('open_read', () => store.read(digest, range)),
      delete: (digest: string) => timed('delete', () => store.delete(digest)),
      check: () => timed('check', () => store.check()),
      writeFile: (path: string, body: Readable) => timed('write_file', () => store.writeFile(path, body)),
      readFile: (path: string) => timed('open_read_file', () => store.readFile(path)),
      deleteFile: (path: string) => timed('delete_file', () => store.deleteFile(path)),
      signedFileUrl: (path: string, seconds: number) => store.signedFileUrl(path, seconds),
      blobUrl: (digest: string, seconds: number) => timed('sign_url', () => store.blobUrl(digest, seconds)),
    };
  }
}
