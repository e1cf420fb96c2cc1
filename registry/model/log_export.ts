/**
 * Usage-log export (Quay's ExportActionLogsWorker): a request is validated and queued on the one work queue
 * ('exportactionlogs'); its handler streams the logs of the range, page by page (never all rows in memory), as
 * Quay's JSON document into the blob store under EXPORT_ACTION_LOGS_STORAGE_PATH, then reports the result
 * (`success`, `failed`, `timedout`, `invalidrequest`) with a link: a pre-signed URL where the store can sign
 * (S3), else an expiring signed registry URL (`/exportedlogs/<file>`). The report is POSTed to the callback
 * URL through the SSRF guard and/or mailed.
 *
 * The document:
 *   {"export_id": …, "details": {"start_time", "end_time", "namespace", "repository"}, "logs": [
 *     {log}, {log}, …, {"terminator": true}]}
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { QuayConfig } from '../../config/index.js';
import type { BlobStore } from '../storage/index.js';
import { isMissingObject } from '../storage/blobstore.js';
import type { Queues } from '../queue/index.js';
import type { Outbound } from '../net/outbound.js';
import { OutboundRefused } from '../net/outbound.js';
import type { Mailer } from '../net/mail.js';
import type { Principal } from '../auth/principal.js';
import type { SignedLinks } from '../auth/signed_links.js';
import type { LogFilter, LogReader, LogRow } from './log_reader.js';
import type { UsageLogs } from './logs.js';
import { escapeHtml } from './event_kinds.js';
import { Invalid } from './errors.js';

/** Quay's EXPORT_ACTION_LOGS_QUEUE_NAME. */
export const EXPORT_QUEUE = 'exportactionlogs';
/** Quay queues an export with 3 retries. */
export const EXPORT_RETRIES = 3;
/** The longest range one export may cover (the user guide's promise; Quay's code does not check it). */
export const MAX_EXPORT_DAYS = 30;
/** Log rows read and written per batch (Quay's DB backend aims at about 1000). */
const BATCH_ROWS = 1000;
const DAY_MS = 86_400_000;

export type ExportStatus = 'success' | 'failed' | 'timedout' | 'invalidrequest';

/** The queue item's body, as Quay's API builds it (times as MM/DD/YYYY, the end day inclusive). */
export interface ExportJob {
  export_id: string;
  repository_id: number | null;
  namespace_id: number;
  namespace_name: string;
  repository_name: string | null;
  start_time: string;
  end_time: string;
  callback_url: string | null;
  callback_email: string | null;
}

/** A request refused with this text (the REST API answers 400). */
export class ExportInvalid extends Invalid {
  constructor(message: string) {
    super('request', message);
  }
}

/** `MM/DD/YYYY` (UTC) → that day's midnight; null when malformed. */
export function parseExportDay(value: string): Date | null {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value);
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2])));
  return d.getUTCMonth() === Number(m[1]) - 1 && d.getUTCDate() === Number(m[2]) ? d : null;
}

function formatDay(d: Date): string {
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}/${d.getUTCFullYear()}`;
}

/** Quay's date format in the document (RFC 2822 style, as the REST API writes dates). */
function quayDate(d: Date): string {
  return d.toUTCString().replace('GMT', '-0000');
}

/** A log row as Quay exports it (`to_dict` without the namespace). */
export type LogRowView = (row: LogRow) => Record<string, unknown>;

export interface LogExportDeps {
  config: QuayConfig;
  store: BlobStore;
  queues: Queues;
  outbound: Outbound;
  mailer: Mailer;
  reader: LogReader;
  logs: UsageLogs;
  links: SignedLinks;
  view: LogRowView;
  log: Logger;
}

export interface ExportScope {
  namespace: { id: number; name: string };
  repository?: { id: number; name: string } | null;
}

export interface ExportRequest {
  starttime?: string;
  endtime?: string;
  callback_url?: string | null;
  callback_email?: string | null;
}

/** Signals the handler that the run should not be retried: it was reported as `timedout`. */
class ExportTimedOut extends Error {}

export class LogExports {
  constructor(private readonly d: LogExportDeps) {}

  private get storagePath(): string {
    return this.d.config.EXPORT_ACTION_LOGS_STORAGE_PATH.replace(/^\/+|\/+$/g, '');
  }

  /**
   * Validate and queue an export; returns its id. Every attempt is audited (`export_logs_success` for a queued
   * export, `export_logs_failure` with the reason for a refused one). Throws ExportInvalid (400).
   */
  async request(scope: ExportScope, req: ExportRequest, performer: Principal, ip: string | null): Promise<string> {
    const url = req.callback_url || null;
    const email = req.callback_email || null;
    const repo = scope.repository ? { repo: scope.repository.name } : {};
    const audit = (kind: string, metadata: Record<string, unknown>) =>
      this.d.logs.log({ kind, performer, namespaceId: scope.namespace.id, repositoryId: scope.repository?.id ?? null, ip, metadata: { ...metadata, url, email, ...repo } });
    try {
      if (url !== null) {
        // Quay's own text for a URL that is not http(s); the SSRF guard's refusals say why.
        if (!/^https?:\/\//.test(url)) throw new ExportInvalid('Invalid callback URL');
        try {
          await this.d.outbound.checkUrl(url, 'callback');
        } catch (err) {
          if (err instanceof OutboundRefused) throw new ExportInvalid(`Invalid callback URL: ${err.message}`);
          throw err;
        }
      }
      if (email !== null && !/^[^@\s]+@[^@\s]+$/.test(email)) throw new ExportInvalid('Invalid callback e-mail');
      const now = Date.now();
      const start = req.starttime ? parseExportDay(req.starttime) : new Date(Math.floor(now / DAY_MS) * DAY_MS - DAY_MS);
      const end = req.endtime ? parseExportDay(req.endtime) : new Date(Math.floor(now / DAY_MS) * DAY_MS);
      if (!start) throw new ExportInvalid(`Invalid starttime "${req.starttime}": use MM/DD/YYYY (UTC)`);
      if (!end) throw new ExportInvalid(`Invalid endtime "${req.endtime}": use MM/DD/YYYY (UTC)`);
      if (end < start) throw new ExportInvalid('Invalid time span selected');
      if (end.getTime() - start.getTime() > MAX_EXPORT_DAYS * DAY_MS) throw new ExportInvalid(`Cannot export logs over a period longer than ${MAX_EXPORT_DAYS} days`);
      const job: ExportJob = {
        export_id: randomUUID(),
        repository_id: scope.repository?.id ?? null,
        namespace_id: scope.namespace.id,
        namespace_name: scope.namespace.name,
        repository_name: scope.repository?.name ?? null,
        start_time: formatDay(start),
        end_time: formatDay(end),
        callback_url: url,
        callback_email: email,
      };
      await this.d.queues.queue(EXPORT_QUEUE).put([scope.namespace.name], { ...job }, { retries: EXPORT_RETRIES });
      audit('export_logs_success', { export_id: job.export_id, start_time: job.start_time, end_time: job.end_time, message: 'queued for export' });
      return job.export_id;
    } catch (err) {
      if (err instanceof ExportInvalid) audit('export_logs_failure', { start_time: req.starttime ?? null, end_time: req.endtime ?? null, error: err.message });
      throw err;
    }
  }

  /**
   * Run one export. `keepAlive` is called between batches (the queue lease is extended there). Resolves when
   * the export is done and reported (also for `timedout` / `invalidrequest`, which are not retried); throws
   * after reporting `failed`, so that the queue retries it.
   */
  async run(job: ExportJob, keepAlive: () => Promise<void>): Promise<void> {
    const start = parseExportDay(job.start_time);
    const endDay = parseExportDay(job.end_time);
    if (!start || !endDay) return this.report(job, 'invalidrequest', null);
    // The end day is inclusive: the range ends at the next midnight (one adjustment, not Quay's two).
    const end = new Date(endDay.getTime() + DAY_MS);
    const file = `${job.export_id}-${randomUUID()}`;
    const path = `${this.storagePath}/${file}`;
    const filter: LogFilter = { start, end, namespaceId: job.namespace_id, ...(job.repository_id !== null ? { repositoryId: job.repository_id } : {}) };
    const deadline = Date.now() + this.d.config.EXPORT_ACTION_LOGS_MAXIMUM_SECONDS * 1000;
    try {
      await this.d.store.writeFile(path, Readable.from(this.document(job, filter, start, end, deadline, keepAlive)));
    } catch (err) {
      if (err instanceof ExportTimedOut) return this.report(job, 'timedout', null);
      this.d.log.error({ err, export_id: job.export_id }, 'usage-log export failed');
      await this.report(job, 'failed', null).catch((e) => this.d.log.warn({ err: e, export_id: job.export_id }, 'reporting a failed export failed'));
      throw err;
    }
    const seconds = this.d.config.EXPORT_ACTION_LOGS_SECONDS;
    const url = (await this.d.store.signedFileUrl(path, seconds)) ?? this.d.links.link(file, seconds);
    await this.report(job, 'success', url);
  }

  /** The JSON document, produced one batch at a time. */
  private async *document(job: ExportJob, filter: LogFilter, start: Date, end: Date, deadline: number, keepAlive: () => Promise<void>): AsyncGenerator<Buffer> {
    const details = { start_time: quayDate(start), end_time: quayDate(new Date(end.getTime() - 1)), namespace: job.namespace_name, repository: job.repository_name };
    yield Buffer.from(`{"export_id": ${JSON.stringify(job.export_id)}, "details": ${JSON.stringify(details)}, "logs": [\n`);
    let cursor = null;
    do {
      if (Date.now() > deadline) throw new ExportTimedOut(`export ${job.export_id} ran past EXPORT_ACTION_LOGS_MAXIMUM_SECONDS`);
      const page = await this.d.reader.page(filter, cursor, BATCH_ROWS);
      if (page.rows.length > 0) yield Buffer.from(page.rows.map((r) => `${JSON.stringify(this.d.view(r))},\n`).join(''));
      cursor = page.next;
      await keepAlive();
    } while (cursor);
    yield Buffer.from('{"terminator": true}]}\n');
  }

  /**
   * POST the result to the callback URL (re-checked with DNS at connect time; a refused URL is skipped with a
   * warning, as in Quay) and/or mail it. A callback answering anything but 200, or a mail the server refuses,
   * throws: the queue retries the export.
   */
  private async report(job: ExportJob, status: ExportStatus, url: string | null): Promise<void> {
    if (job.callback_url) {
      const body = {
        export_id: job.export_id,
        start_time: job.start_time,
        end_time: job.end_time,
        namespace: job.namespace_name,
        repository: job.repository_name,
        exported_data_url: url,
        status,
      };
      try {
        const res = await this.d.outbound.request(job.callback_url, { method: 'POST', json: body, purpose: 'callback' });
        res.discard();
        if (res.status !== 200) throw new Error(`export callback ${new URL(job.callback_url).host} answered ${res.status}`);
      } catch (err) {
        if (!(err instanceof OutboundRefused)) throw err;
        this.d.log.warn({ export_id: job.export_id, reason: err.message }, 'export callback URL refused; skipped');
      }
    }
    if (job.callback_email) {
      const expiry = this.d.config.EXPORT_ACTION_LOGS_SECONDS;
      const text =
        status === 'success'
          ? `The usage logs export ${job.export_id} is complete. Download it within ${expiry} seconds: ${url}`
          : `The usage logs export ${job.export_id} did not complete (status: ${status}).`;
      const html =
        status === 'success'
          ? `<p>The usage logs export <b>${escapeHtml(job.export_id)}</b> is complete.</p><p><a href="${escapeHtml(url ?? '')}">Download the exported logs</a> (the link expires in ${expiry} seconds).</p>`
          : `<p>The usage logs export <b>${escapeHtml(job.export_id)}</b> did not complete (status: <b>${status}</b>).</p>`;
      await this.d.mailer.send({ to: job.callback_email, subject: 'Export Action Logs Complete', html, text });
    }
  }

  /** The stored document of a signed local link (`/exportedlogs/<file>`), or null when the link is not valid. */
  async open(file: string, expires: unknown, signature: unknown): Promise<Readable | null> {
    if (!/^[0-9a-f-]{36}-[0-9a-f-]{36}$/.test(file) || !this.d.links.verify(file, expires, signature)) return null;
    try {
      return await this.d.store.readFile(`${this.storagePath}/${file}`);
    } catch (err) {
      if (isMissingObject(err)) return null;
      throw err;
    }
  }
}
