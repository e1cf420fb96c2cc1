/** The interface both scanners (built-in OSV, Clair v4) implement for the indexing worker and the /security API. */
import type { Readable } from 'node:stream';
import type { QuaySecurityData } from './report.js';

export interface IndexLayer {
  digest: string;
  size: number;
  mediaType: string;
  /** foreign layers (`urls` in the manifest) */
  urls?: string[];
  open(): Promise<Readable>;
}

export interface IndexJob {
  manifestId: number;
  manifestDigest: string;
  namespace: string;
  repository: string;
  layers: IndexLayer[];
}

export type IndexOutcome =
  /** indexed; `state` is the indexer state it was indexed under */
  | { kind: 'finished'; state: string }
  /** the content could not be indexed (bad layer, malformed package database): FAILED with this reason */
  | { kind: 'error'; state: string; error: string }
  /** the scanner refuses this content (Clair's 400) */
  | { kind: 'unsupported'; error: string };

/** The scanner cannot be reached or answered nonsense: nothing is recorded, the manifest stays queued. */
export class ScannerUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScannerUnavailable';
  }
}

export interface ScannerBackend {
  readonly name: 'builtin' | 'clair';
  /** The indexer's current state: a manifest indexed under another state is re-indexed. Throws ScannerUnavailable. */
  state(): Promise<string>;
  /** Index one manifest (the built-in scanner stores its index report in the registry's database). */
  index(job: IndexJob): Promise<IndexOutcome>;
  /** The vulnerability report in Quay's shape; null when the scanner has none (yet). Throws ScannerUnavailable. */
  report(manifestId: number, manifestDigest: string): Promise<QuaySecurityData | null>;
  /** Forget a garbage-collected manifest's index report (Clair keeps its own). */
  deleteReport(manifestDigest: string): Promise<void>;
}
