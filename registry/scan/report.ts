/**
 * Quay's `/security` data (`SecurityInformation.to_dict()` of Quay's v4 model): one Feature per package with
 * its vulnerabilities, built from an index report and the OSV records that affect its packages.
 */
import type { DetectedPackage, Distribution } from './detect.js';
import { cvssOf, matchRecord, severityOf, type OsvRecord, type QuaySeverity } from './osv.js';

export interface QuayVulnerability {
  Severity: QuaySeverity;
  NamespaceName: string;
  Link: string;
  FixedBy: string;
  Description: string;
  Name: string;
  Metadata: {
    UpdatedBy: string;
    RepoName: string | null;
    RepoLink: string | null;
    DistroName: string | null;
    DistroVersion: string | null;
    NVD: { CVSSv3: { Vectors: string; Score: number | string } };
  };
}

export interface QuayFeature {
  Name: string;
  VersionFormat: string;
  NamespaceName: string;
  AddedBy: string;
  Version: string;
  BaseScores: number[];
  CVEIds: string[];
  Vulnerabilities: QuayVulnerability[];
}

export interface QuaySecurityData {
  Layer: { Name: string; ParentName: string; NamespaceName: string; IndexedByVersion: number; Features: QuayFeature[] };
}

const CVE = /CVE-\d{4}-\d{4,7}/g;

export function vulnerabilityOf(record: OsvRecord, pkg: DetectedPackage, fixedBy: string, distribution: Distribution | null): QuayVulnerability {
  const cvss = cvssOf(record);
  const links = [
    `https://osv.dev/vulnerability/${record.id}`,
    ...(record.references ?? []).map((r) => r.url).filter((u): u is string => typeof u === 'string' && /^https?:\/\/\S+$/.test(u)),
  ];
  const updater = `osv/${pkg.ecosystem}`;
  const osPackage = pkg.kind === 'binary';
  return {
    Severity: severityOf(record, cvss),
    NamespaceName: updater,
    Link: [...new Set(links)].join(' '),
    FixedBy: fixedBy,
    Description: record.summary || record.details || '',
    Name: record.id,
    Metadata: {
      UpdatedBy: updater,
      RepoName: null,
      RepoLink: null,
      DistroName: osPackage ? (distribution?.name ?? null) : null,
      DistroVersion: osPackage ? (distribution?.versionId ?? null) : null,
      NVD: { CVSSv3: { Vectors: cvss?.vector ?? '', Score: cvss?.score ?? '' } },
    },
  };
}

/**
 * `records` maps `ecosystem\0matchName` to the candidate records filed under that package; only those whose
 * ranges contain the installed version become vulnerabilities.
 */
export function buildSecurityData(
  manifestDigest: string,
  distribution: Distribution | null,
  packages: DetectedPackage[],
  records: Map<string, OsvRecord[]>,
  key: (p: DetectedPackage) => string,
): QuaySecurityData {
  const features: QuayFeature[] = packages.map((pkg) => {
    const vulns: QuayVulnerability[] = [];
    const seen = new Set<string>();
    for (const record of records.get(key(pkg)) ?? []) {
      const m = matchRecord(record, pkg.ecosystem, pkg.matchName, pkg.matchVersion);
      if (!m || seen.has(record.id)) continue;
      seen.add(record.id);
      vulns.push(vulnerabilityOf(record, pkg, m.fixedBy, distribution));
    }
    const cves = new Set<string>();
    for (const v of vulns) for (const c of `${v.Link} ${v.Name} ${aliasesOf(records.get(key(pkg)), v.Name).join(' ')}`.match(CVE) ?? []) cves.add(c);
    return {
      Name: pkg.name,
      VersionFormat: '',
      NamespaceName: '',
      AddedBy: pkg.addedBy,
      Version: pkg.version,
      BaseScores: vulns.map((v) => v.Metadata.NVD.CVSSv3.Score).filter((s): s is number => typeof s === 'number' && s > 0),
      CVEIds: [...cves].sort(),
      Vulnerabilities: vulns,
    };
  });
  return { Layer: { Name: manifestDigest, ParentName: '', NamespaceName: '', IndexedByVersion: 4, Features: features } };
}

/** The other ids of advisory `id`: its aliases, and the related ids under which distributions list the CVEs they fix. */
function aliasesOf(records: OsvRecord[] | undefined, id: string): string[] {
  const r = records?.find((x) => x.id === id);
  return [...(r?.aliases ?? []), ...(r?.related ?? [])];
}
