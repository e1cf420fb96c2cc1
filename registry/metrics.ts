/** Prometheus metrics (served at /metrics). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Readable } from 'node:stream';
import type { BlobStore, ByteRange, ReadOptions, Segment } from './storage/index.js';
import type { ByteLru } from './cache/lru.js';
import type { CacheCoherence } from './cache/coherence.js';
import { serverMetrics, shareMetrics, workerIndex } from './cluster.js';

/** A metric's identity: its name, help text and label names (kept stable: dashboards and alerts read them). */
interface MetricDef {
  name: string;
  help: string;
  labelNames?: string[];
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests = this.counter({ name: 'quay_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'] });
  readonly requestDuration = this.histogram(
    { name: 'quay_http_request_duration_seconds', help: 'HTTP request latency by route and method', labelNames: ['route', 'method'] },
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly bytesReceived = this.counter({ name: 'quay_http_bytes_received_total', help: 'Blob bytes received in uploads' });
  readonly bytesSent = this.counter({ name: 'quay_http_bytes_sent_total', help: 'Response body bytes sent' });
  readonly uploadDuration = this.histogram(
    { name: 'quay_blob_upload_request_duration_seconds', help: 'Duration of requests that carry blob bytes (PATCH, PUT, single POST)' },
    [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300],
  );
  readonly storageDuration = this.histogram(
    { name: 'quay_storage_operation_duration_seconds', help: 'Blob store operation latency by driver and operation', labelNames: ['driver', 'operation'] },
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
  );

  readonly queueJobs = this.counter({
    name: 'quay_queue_jobs_total',
    help: 'Work queue items handled, by queue and outcome (done, retry, postponed, error, gave_up, lease_lost)',
    labelNames: ['queue', 'outcome'],
  });
  readonly queueJobDuration = this.histogram(
    { name: 'quay_queue_job_duration_seconds', help: 'Time a handler spent on one work queue item', labelNames: ['queue'] },
    [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 120],
  );
  readonly notificationDeliveries = this.counter({
    name: 'quay_notification_deliveries_total',
    help: 'Notification deliveries by method and outcome (success, failure, filtered, disabled, deleted)',
    labelNames: ['method', 'outcome'],
  });
  readonly notificationLatency = this.histogram(
    { name: 'quay_notification_delivery_latency_seconds', help: 'Time from the event (its commit) to a successful delivery, by method', labelNames: ['method'] },
    [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
  );
  readonly mirrorSyncs = this.counter({
    name: 'quay_repository_mirror_syncs_total',
    help: 'Repository mirror sync runs finished by this process, by result (success, fail, cancel)',
    labelNames: ['result'],
  });
  readonly mirrorSyncDuration = this.histogram(
    { name: 'quay_repository_mirror_sync_duration_seconds', help: 'Duration of repository mirror sync runs, by result', labelNames: ['result'] },
    [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
  );
  readonly mirrorTags = this.counter({
    name: 'quay_repository_mirror_tags_total',
    help: 'Tags handled by repository mirror syncs, by result (copied, unchanged, failed)',
    labelNames: ['result'],
  });
  readonly mirrorLastSuccess = this.gauge({
    name: 'quay_repository_mirror_last_success_timestamp_seconds',
    help: 'When a sync run of this process last succeeded (Unix time; 0 before the first)',
  });
  readonly mirrorSyncsRunning = this.gauge({ name: 'quay_repository_mirror_syncs_running', help: 'Repository mirror sync runs in progress in this process' });
  private depthSource: (() => Promise<Array<{ queue: string; waiting: number; processing: number }>>) | null = null;
  readonly queueDepth = this.gauge(
    {
      name: 'quay_queue_items',
      help: 'Work queue items by queue and state (waiting, processing), read from the database at scrape time',
      labelNames: ['queue', 'state'],
    },
    async (g) => {
      if (!this.depthSource) return;
      g.reset();
      for (const d of await this.depthSource()) {
        g.set({ queue: d.queue, state: 'waiting' }, d.waiting);
        g.set({ queue: d.queue, state: 'processing' }, d.processing);
      }
    },
    // Read from the database: every worker process reports the same numbers.
    'max',
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'quay_' });
    // Summed over worker processes, quay_process_resident_memory_bytes is the server's; this is each one's.
    this.gauge(
      {
        name: 'quay_worker_resident_memory_bytes',
        help: 'Resident memory of each HTTP worker process (serve --workers), by worker index and pid',
        labelNames: ['worker', 'pid'],
      },
      (g) => g.set({ worker: String(workerIndex()), pid: String(process.pid) }, process.memoryUsage.rss()),
    );
    shareMetrics(this.registry);
  }

  /** A counter; with `read`, its value is read at scrape time (reset, then counted again from the source). */
  private counter(def: MetricDef, read?: (c: Counter) => void): Counter {
    const c: Counter = new Counter({
      ...def,
      labelNames: def.labelNames ?? [],
      registers: [this.registry],
      ...(read && {
        collect: () => {
          c.reset();
          read(c);
        },
      }),
    });
    return c;
  }

  /** A gauge; with `read`, set at scrape time. `aggregator`: how `serve --workers` combines the processes' values. */
  private gauge(def: MetricDef, read?: (g: Gauge) => void | Promise<void>, aggregator?: 'max'): Gauge {
    const g: Gauge = new Gauge({
      ...def,
      labelNames: def.labelNames ?? [],
      registers: [this.registry],
      ...(aggregator && { aggregator }),
      ...(read && { collect: () => read(g) }),
    });
    return g;
  }

  private histogram(def: MetricDef, buckets: number[]): Histogram {
    return new Histogram({ ...def, labelNames: def.labelNames ?? [], buckets, registers: [this.registry] });
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
    const perCache = (name: string, help: string, value: (c: ByteLru<unknown>) => number) =>
      this.gauge({ name, help, labelNames: ['cache'] }, (g) => caches.forEach((c) => g.set({ cache: c.name }, value(c))));
    perCache('quay_cache_bytes', 'Bytes held by each in-process cache', (c) => c.bytes);
    perCache('quay_cache_max_bytes', 'The byte bound of each in-process cache', (c) => c.maxBytes);
    perCache('quay_cache_entries', 'Entries in each in-process cache', (c) => c.size);
    this.counter({ name: 'quay_cache_lookups_total', help: 'Cache lookups by cache and result (hit, miss)', labelNames: ['cache', 'result'] }, (m) =>
      caches.forEach((c) => {
        m.inc({ cache: c.name, result: 'hit' }, c.hits);
        m.inc({ cache: c.name, result: 'miss' }, c.misses);
      }),
    );
    this.counter({ name: 'quay_cache_evictions_total', help: 'Entries pushed out of each cache by its byte bound', labelNames: ['cache'] }, (m) =>
      caches.forEach((c) => m.inc({ cache: c.name }, c.evictions)),
    );
    const total = (name: string, help: string, value: () => number) => this.counter({ name, help }, (m) => m.inc(value()));
    total('quay_cache_invalidations_total', "Cache changes applied (notifications and this process's own writes)", () => coherence.invalidations);
    total('quay_cache_resets_total', 'Times the caches were emptied because notifications may have been missed', () => coherence.resets);
    total('quay_cache_fences_total', 'Write fences sent (NOTIFYs that writes wait for every live process to acknowledge; concurrent writes share one)', () => coherence.fencesSent);
    this.gauge({ name: 'quay_cache_peers', help: 'Other processes (workers and replicas) whose acknowledgement a write fence waits for' }, (g) => g.set(coherence.peerCount));
    this.gauge({ name: 'quay_cache_trusted', help: '1 while the cache notification path is confirmed by heartbeats (caches are served), 0 otherwise' }, (g) =>
      g.set(coherence.trusted() ? 1 : 0),
    );
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
      read: (digest: string, range?: ByteRange, opts?: ReadOptions) => timed('open_read', () => store.read(digest, range, opts)),
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
