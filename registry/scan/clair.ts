/**
 * The Clair v4 backend, as Quay drives Clair (util/secscan/v4/api.py): the indexer's state, index requests
 * with per-layer download URLs, vulnerability reports reshaped into Quay's `/security` data, report deletion
 * for GC, and the notifier's paged notifications. With SECURITY_SCANNER_V4_PSK every request carries a fresh
 * HS256 JWT (`iss: quay`, 5 minutes) keyed by the decoded PSK. Calls go through the SSRF guard (with the
 * configured Clair host allowed): no redirects, timeouts, capped bodies.
 */
import { SignJWT, jwtVerify } from 'jose';
import type { Outbound, OutboundResponse } from '../net/outbound.js';
import { ScannerUnavailable, type IndexJob, type IndexOutcome, type IndexLayer, type ScannerBackend } from './backend.js';
import { severityOfScore, SEVERITIES, type QuaySeverity } from './osv.js';
import type { QuayFeature, QuaySecurityData, QuayVulnerability } from './report.js';

/** Quay's timeouts: 600 s for the indexer, 30 s for matcher and notifier. */
const INDEXER_TIMEOUT_MS = 600_000;
const MATCHER_TIMEOUT_MS = 30_000;
/** Vulnerability reports of big images run to megabytes. */
const MAX_REPORT_BYTES = 64 * 1024 * 1024;

export interface ClairLayerUrl {
  uri: string;
  headers: Record<string, string[]>;
}

interface ClairVulnerability {
  id: string;
  updater?: string;
  name?: string;
  description?: string;
  links?: string;
  severity?: string;
  normalized_severity?: string;
  fixed_in_version?: string;
  distribution?: { name?: string; version?: string } | null;
  repository?: { name?: string; uri?: string } | null;
}

export interface ClairVulnerabilityReport {
  manifest_hash: string;
  packages: Record<string, { id: string; name: string; version: string }>;
  distributions: Record<string, unknown>;
  environments: Record<string, Array<{ introduced_in?: string }>>;
  vulnerabilities: Record<string, ClairVulnerability>;
  package_vulnerabilities: Record<string, string[]>;
  enrichments?: Record<string, Array<Record<string, Array<{ baseScore?: number; vectorString?: string }>>>>;
}

export interface ClairNotification {
  id: string;
  manifest: string;
  reason: 'added' | 'removed' | string;
  vulnerability: { name?: string; fixed_in_version?: string; links?: string; description?: string; normalized_severity?: string };
}

export interface PagedNotifications {
  page: { size?: number; next?: string };
  notifications: ClairNotification[];
}

/** A 2xx body that does not match Clair's OpenAPI schema (Quay treats it as an API failure). */
export class ClairSchemaError extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

function requireKeys(body: unknown, what: string, keys: string[]): Record<string, unknown> {
  if (!isObj(body)) throw new ClairSchemaError(`${what}: not a JSON object`);
  const missing = keys.filter((k) => !(k in body));
  if (missing.length) throw new ClairSchemaError(`${what}: missing ${missing.join(', ')}`);
  return body;
}

/** `fixed_in_version` may be URL-query encoded (`fixed=1.2.3&…`); "0" means no fix. */
export function fixedBy(v: string | undefined): string {
  if (!v || v === '0') return '';
  if (v.includes('=')) return new URLSearchParams(v).get('fixed') ?? '';
  return v;
}

/** Quay's `features_for`: one Feature per package, vulnerabilities deduplicated per name+version+vulnerability name. */
export function featuresFor(report: ClairVulnerabilityReport): QuayFeature[] {
  // the highest-scored enrichment per vulnerability id
  const enrichments = new Map<string, { baseScore?: number; vectorString?: string }>();
  for (const list of Object.values(report.enrichments ?? {})) {
    for (const byVuln of list ?? []) {
      for (const [id, scores] of Object.entries(byVuln ?? {})) {
        for (const s of Array.isArray(scores) ? scores : []) {
          if (typeof s?.baseScore !== 'number') continue;
          const best = enrichments.get(id);
          if (!best || (best.baseScore ?? 0) < s.baseScore) enrichments.set(id, s);
        }
      }
    }
  }
  const seen = new Set<string>();
  const features: QuayFeature[] = [];
  for (const [pkgId, pkg] of Object.entries(report.packages ?? {})) {
    const env = report.environments?.[pkgId]?.[0];
    const vulns: QuayVulnerability[] = [];
    for (const vulnId of report.package_vulnerabilities?.[pkgId] ?? []) {
      const v = report.vulnerabilities?.[vulnId];
      if (!v) continue;
      const key = `${pkg.name}_${pkg.version}_${v.name ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const e = enrichments.get(v.id);
      let severity = (SEVERITIES as string[]).includes(v.normalized_severity ?? '') ? (v.normalized_severity as QuaySeverity) : 'Unknown';
      if (severity === 'Unknown' && typeof e?.baseScore === 'number') severity = severityOfScore(e.baseScore);
      vulns.push({
        Severity: severity,
        NamespaceName: v.updater ?? '',
        Link: v.links ?? '',
        FixedBy: fixedBy(v.fixed_in_version),
        Description: v.description ?? '',
        Name: v.name ?? '',
        Metadata: {
          UpdatedBy: v.updater ?? '',
          RepoName: v.repository?.name ?? null,
          RepoLink: v.repository?.uri ?? null,
          DistroName: v.distribution?.name ?? null,
          DistroVersion: v.distribution?.version ?? null,
          NVD: { CVSSv3: { Vectors: e?.vectorString ?? '', Score: e?.baseScore ?? '' } },
        },
      });
    }
    const cves = new Set<string>();
    for (const v of vulns) for (const c of v.Link.match(/CVE-\d{4}-\d{4,7}/g) ?? []) cves.add(c);
    features.push({
      Name: pkg.name,
      VersionFormat: '',
      NamespaceName: '',
      AddedBy: env?.introduced_in ?? '',
      Version: pkg.version,
      BaseScores: vulns.map((v) => v.Metadata.NVD.CVSSv3.Score).filter((s): s is number => typeof s === 'number' && s > 0),
      CVEIds: [...cves].sort(),
      Vulnerabilities: vulns,
    });
  }
  return features;
}

/** Verifies a JWT Clair's notifier signed with the shared PSK (issuer not checked, as Quay). */
export async function verifyPskJwt(authorization: string | undefined, psk: Buffer): Promise<boolean> {
  const m = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(authorization ?? '');
  if (!m) return false;
  try {
    await jwtVerify(m[1], psk, { algorithms: ['HS256'] });
    return true;
  } catch {
    return false;
  }
}

export class ClairScanner implements ScannerBackend {
  readonly name = 'clair' as const;
  private readonly base: string;

  constructor(
    endpoint: string,
    private readonly psk: Buffer | null,
    private readonly out: Outbound,
    /** where Clair downloads a layer from, and the headers it sends */
    private readonly layerUrl: (job: IndexJob, layer: IndexLayer) => Promise<ClairLayerUrl>,
  ) {
    this.base = endpoint.replace(/\/+$/, '');
  }

  private async headers(): Promise<Record<string, string>> {
    if (!this.psk) return {};
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('quay')
      .setExpirationTime(now + 300)
      .sign(this.psk);
    return { authorization: `Bearer ${jwt}` };
  }

  private async call(method: string, path: string, o: { json?: unknown; timeoutMs: number; maxBytes?: number }): Promise<OutboundResponse> {
    try {
      return await this.out.request(`${this.base}/${path}`, {
        method,
        headers: { accept: 'application/json', ...(await this.headers()) },
        json: o.json,
        purpose: 'scanner',
        timeoutMs: o.timeoutMs,
        maxResponseBytes: o.maxBytes ?? MAX_REPORT_BYTES,
      });
    } catch (err) {
      throw new ScannerUnavailable(`Clair ${method} ${path}: ${(err as Error).message}`);
    }
  }

  private async json(res: OutboundResponse, what: string): Promise<unknown> {
    try {
      return await res.json();
    } catch (err) {
      throw new ScannerUnavailable(`Clair ${what}: unreadable JSON: ${(err as Error).message}`);
    }
  }

  async state(): Promise<string> {
    const res = await this.call('GET', 'indexer/api/v1/index_state', { timeoutMs: MATCHER_TIMEOUT_MS });
    if (res.status !== 200) {
      res.discard();
      throw new ScannerUnavailable(`Clair index_state answered ${res.status}`);
    }
    const body = await this.json(res, 'index_state');
    if (!isObj(body) || typeof body.state !== 'string') throw new ScannerUnavailable('Clair index_state: no "state"');
    return body.state;
  }

  async index(job: IndexJob): Promise<IndexOutcome> {
    const layers = [];
    for (const l of job.layers) {
      if (l.urls?.length) layers.push({ hash: l.digest, uri: l.urls[0], headers: { Accept: ['application/gzip'] } });
      else {
        const u = await this.layerUrl(job, l);
        layers.push({ hash: l.digest, uri: u.uri, headers: { Accept: ['application/gzip'], ...u.headers } });
      }
    }
    const res = await this.call('POST', 'indexer/api/v1/index_report', { json: { hash: job.manifestDigest, layers }, timeoutMs: INDEXER_TIMEOUT_MS });
    if (res.status === 400) {
      const text = await res.text().catch(() => '');
      return { kind: 'unsupported', error: `Clair refused the manifest: ${text.slice(0, 500)}` };
    }
    if (res.status < 200 || res.status > 299) {
      res.discard();
      return { kind: 'error', state: 'server_error', error: `Clair index_report answered ${res.status}` };
    }
    const etag = String(res.headers.etag ?? '').replace(/"/g, '');
    let report: Record<string, unknown>;
    try {
      // the keys Clair's OpenAPI document requires; the others may be absent
      report = requireKeys(await this.json(res, 'index_report'), 'IndexReport', ['manifest_hash', 'state', 'success']);
      if (!etag) throw new ClairSchemaError('IndexReport: no ETag header');
    } catch (err) {
      return { kind: 'error', state: 'api_failure', error: (err as Error).message };
    }
    if (report.state === 'IndexFinished') return { kind: 'finished', state: etag };
    if (report.state === 'IndexError') return { kind: 'error', state: etag, error: String(report.err ?? 'IndexError') };
    return { kind: 'error', state: 'unknown_state', error: `Clair answered state ${String(report.state)}` };
  }

  async report(_manifestId: number, manifestDigest: string): Promise<QuaySecurityData | null> {
    const res = await this.call('GET', `matcher/api/v1/vulnerability_report/${manifestDigest}`, { timeoutMs: MATCHER_TIMEOUT_MS });
    if (res.status === 404) {
      res.discard();
      return null;
    }
    // Clair's OpenAPI document gives this GET a 201; Clair's handler answers 200
    if (res.status !== 200 && res.status !== 201) {
      res.discard();
      throw new ScannerUnavailable(`Clair vulnerability_report answered ${res.status}`);
    }
    let body: ClairVulnerabilityReport;
    try {
      body = requireKeys(await this.json(res, 'vulnerability_report'), 'VulnerabilityReport', [
        'manifest_hash',
        'packages',
        'distributions',
        'environments',
        'vulnerabilities',
        'package_vulnerabilities',
      ]) as unknown as ClairVulnerabilityReport;
    } catch (err) {
      throw new ScannerUnavailable((err as Error).message);
    }
    return { Layer: { Name: manifestDigest, ParentName: '', NamespaceName: '', IndexedByVersion: 4, Features: featuresFor(body) } };
  }

  async deleteReport(manifestDigest: string): Promise<void> {
    const res = await this.call('DELETE', `indexer/api/v1/index_report/${manifestDigest}`, { timeoutMs: INDEXER_TIMEOUT_MS });
    res.discard();
    if (res.status >= 300 && res.status !== 404) throw new ScannerUnavailable(`Clair delete index_report answered ${res.status}`);
  }

  /** One page of a notification; null when Clair no longer has it. */
  async notificationPage(id: string, next?: string): Promise<PagedNotifications | null> {
    const q = next ? `?next=${encodeURIComponent(next)}` : '';
    const res = await this.call('GET', `notifier/api/v1/notification/${encodeURIComponent(id)}${q}`, { timeoutMs: MATCHER_TIMEOUT_MS });
    if (res.status === 404) {
      res.discard();
      return null;
    }
    if (res.status !== 200) {
      res.discard();
      throw new ScannerUnavailable(`Clair notification answered ${res.status}`);
    }
    const body = await this.json(res, 'notification');
    if (!isObj(body) || !isObj(body.page) || !Array.isArray(body.notifications)) throw new ScannerUnavailable('Clair notification: not a PagedNotifications');
    return body as unknown as PagedNotifications;
  }

  async deleteNotification(id: string): Promise<void> {
    const res = await this.call('DELETE', `notifier/api/v1/notification/${encodeURIComponent(id)}`, { timeoutMs: MATCHER_TIMEOUT_MS });
    res.discard();
    if (res.status >= 300 && res.status !== 404) throw new ScannerUnavailable(`Clair delete notification answered ${res.status}`);
  }
}
