/**
 * Security scan views (FEATURE_SECURITY_SCANNER): the Tags list's Security column and the tag's Security
 * Report and Packages tabs, both from `GET …/manifest/{digest}/security?vulnerabilities=true` (Quay's Clair-v2 shape:
 * `status` queued / failed / unsupported / scanned, `data.Layer.Features[].Vulnerabilities[]`).
 */
import { lazy, Suspense, useState } from 'react';
import { Checkbox, Content, Flex, Label, LabelGroup, SearchInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { ExpandableRowContent, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import { Empty, ErrorState, Loading } from '../../components/common';
import type { Repository } from './types';

const SeverityDonut = lazy(() => import('./SeverityDonut'));

interface Vulnerability {
  Name: string;
  Severity: string;
  Link: string;
  FixedBy: string;
  Description: string;
  Metadata?: { NVD?: { CVSSv3?: { Vectors?: string; Score?: number } } };
}

interface Feature {
  Name: string;
  Version: string;
  AddedBy?: string;
  Vulnerabilities?: Vulnerability[];
}

export interface SecurityInfo {
  status: 'queued' | 'failed' | 'unsupported' | 'scanned';
  data: { Layer: { Features: Feature[] } } | null;
}

/** Most severe first, as Quay orders them. */
export const SEVERITIES = ['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown'] as const;
const COLORS: Record<string, 'red' | 'orange' | 'yellow' | 'blue' | 'grey'> = {
  Critical: 'red',
  High: 'orange',
  Medium: 'yellow',
  Low: 'blue',
  Negligible: 'grey',
  Unknown: 'grey',
};

const severityOf = (v: Vulnerability) => ((SEVERITIES as readonly string[]).includes(v.Severity) ? v.Severity : 'Unknown');

export interface Finding {
  vulnerability: Vulnerability;
  feature: Feature;
  severity: string;
}

/** One row per (package, advisory), most severe first. */
export function findings(info: SecurityInfo | undefined): Finding[] {
  const out: Finding[] = [];
  for (const feature of info?.data?.Layer.Features ?? []) {
    for (const vulnerability of feature.Vulnerabilities ?? []) out.push({ vulnerability, feature, severity: severityOf(vulnerability) });
  }
  const rank = (s: string) => SEVERITIES.indexOf(s as (typeof SEVERITIES)[number]);
  return out.sort((a, b) => rank(a.severity) - rank(b.severity) || a.vulnerability.Name.localeCompare(b.vulnerability.Name));
}

export function severityCounts(list: Finding[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of list) counts.set(f.severity, (counts.get(f.severity) ?? 0) + 1);
  return counts;
}

export function useSecurity(repo: Repository, digest: string, enabled = true) {
  return useQuery({
    queryKey: ['securityDetails', repo.namespace, repo.name, digest],
    queryFn: () => api.get<SecurityInfo>(`${repoPath(repo.namespace, repo.name)}/manifest/${enc(digest)}/security?vulnerabilities=true`),
    enabled,
    // A queued manifest is re-asked until the scanner has indexed it.
    refetchInterval: (q) => (q.state.data?.status === 'queued' ? 5000 : false),
  });
}

/** `GET …/security?digests=`: a manifest's status and its findings per severity (the registry's addition to Quay's API). */
export interface Summary {
  status: SecurityInfo['status'] | 'manifest_layer_too_large';
  vulnerabilities?: Partial<Record<string, number>>;
  fixable?: number;
}

/**
 * The summaries of a page's manifests in one request (Quay's UI asks one report per row); re-asked while any
 * of them is queued.
 */
export function useSecuritySummaries(repo: Repository, digests: string[], enabled = true) {
  const unique = [...new Set(digests)].sort();
  return useQuery({
    queryKey: ['securitySummaries', repo.namespace, repo.name, unique.join(',')],
    queryFn: () => api.get<{ manifests: Record<string, Summary> }>(`${repoPath(repo.namespace, repo.name)}/security?digests=${unique.map(enc).join(',')}`),
    enabled: enabled && unique.length > 0,
    refetchInterval: (q) => (Object.values(q.state.data?.manifests ?? {}).some((m) => m.status === 'queued') ? 5000 : false),
  });
}

/** The Security column: Queued / Failed / Unsupported / None Detected / "n <highest severity>". */
export function SecuritySummary({ summary, loading }: { summary: Summary | undefined; loading: boolean }) {
  if (loading) return <span>Loading…</span>;
  if (!summary) return <span>Unavailable</span>;
  const { status } = summary;
  if (status === 'queued') return <span>Queued</span>;
  if (status === 'failed') return <span>Failed</span>;
  if (status === 'unsupported') return <span>Unsupported</span>;
  if (status === 'manifest_layer_too_large') return <span>Layer too large</span>;
  const counts = summary.vulnerabilities ?? {};
  const total = SEVERITIES.reduce((a, s) => a + (counts[s] ?? 0), 0);
  if (total === 0) return <Label color="green">None Detected</Label>;
  const top = SEVERITIES.find((s) => counts[s])!;
  return (
    <Label color={COLORS[top]} data-testid="security-summary">
      {total} {top}
    </Label>
  );
}

export function SeverityLabels({ list, testId }: { list: Finding[]; testId: string }) {
  const counts = severityCounts(list);
  return (
    <LabelGroup numLabels={SEVERITIES.length} data-testid={testId} aria-label="Vulnerabilities by severity">
      {SEVERITIES.filter((s) => counts.get(s)).map((s) => (
        <Label key={s} color={COLORS[s]}>
          {counts.get(s)} {s}
        </Label>
      ))}
    </LabelGroup>
  );
}

/** The tag page's Security Report tab. */
export function SecurityReport({ repo, digest }: { repo: Repository; digest: string }) {
  const q = useSecurity(repo, digest);
  const [filter, setFilter] = useState('');
  const [fixableOnly, setFixableOnly] = useState(false);
  const [open, setOpen] = useState<Set<string>>(new Set());
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} title="Unable to load the security report" />;
  const info = q.data!;
  if (info.status === 'queued') return <Empty title="Security scan is currently queued">This manifest has not been scanned yet; this page updates when it has.</Empty>;
  if (info.status === 'failed') return <Empty title="Security scan has failed">The scanner could not index this manifest.</Empty>;
  if (info.status === 'unsupported') return <Empty title="Security scan is not supported">The scanner does not support this manifest's content.</Empty>;
  const all = findings(info);
  if (all.length === 0) return <Empty title="Quay Security Reporting has detected no vulnerabilities">None Detected</Empty>;
  const fixable = all.filter((f) => f.vulnerability.FixedBy);
  const shown = (fixableOnly ? fixable : all).filter((f) => `${f.vulnerability.Name} ${f.feature.Name}`.toLowerCase().includes(filter.toLowerCase()));
  const key = (f: Finding) => `${f.feature.Name}/${f.feature.Version}/${f.vulnerability.Name}`;
  return (
    <>
      <Content style={{ margin: '1rem 0' }}>
        <p data-testid="vulnerability-total">
          Quay Security Reporting has detected {all.length} vulnerabilities. Patches are available for {fixable.length} vulnerabilities.
        </p>
      </Content>
      <Flex alignItems={{ default: 'alignItemsCenter' }} data-testid="vulnerability-chart">
        <Suspense fallback={null}>
          <SeverityDonut
            counts={SEVERITIES.map((s) => [s, severityCounts(all).get(s) ?? 0])}
            title={String(all.length)}
            subTitle="vulnerabilities"
            label="Vulnerabilities by severity"
          />
        </Suspense>
        <SeverityLabels list={all} testId="vulnerability-labels" />
      </Flex>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput placeholder="Filter vulnerabilities" aria-label="Filter vulnerabilities" value={filter} onChange={(_e, v) => setFilter(v)} onClear={() => setFilter('')} />
          </ToolbarItem>
          <ToolbarItem>
            <Checkbox id="fixable-only" label="Only show fixable" isChecked={fixableOnly} onChange={(_e, v) => setFixableOnly(v)} />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <Table aria-label="Vulnerabilities" variant="compact">
        <Thead>
          <Tr>
            <Th screenReaderText="Expand" />
            <Th>Advisory</Th>
            <Th>Severity</Th>
            <Th>Package</Th>
            <Th>Current Version</Th>
            <Th>Fixed in Version</Th>
          </Tr>
        </Thead>
        {shown.map((f, i) => {
          const k = key(f);
          const isOpen = open.has(k);
          const cvss = f.vulnerability.Metadata?.NVD?.CVSSv3;
          return (
            <Tbody key={k} isExpanded={isOpen}>
              <Tr data-testid="vulnerability-entry">
                <Td
                  expand={{
                    rowIndex: i,
                    isExpanded: isOpen,
                    onToggle: () =>
                      setOpen((s) => {
                        const n = new Set(s);
                        if (n.has(k)) n.delete(k);
                        else n.add(k);
                        return n;
                      }),
                  }}
                />
                <Td dataLabel="Advisory">{f.vulnerability.Name}</Td>
                <Td dataLabel="Severity">
                  <Label isCompact color={COLORS[f.severity]}>
                    {f.severity}
                  </Label>
                </Td>
                <Td dataLabel="Package">{f.feature.Name}</Td>
                <Td dataLabel="Current Version">{f.feature.Version}</Td>
                <Td dataLabel="Fixed in Version">{f.vulnerability.FixedBy || '-'}</Td>
              </Tr>
              <Tr isExpanded={isOpen}>
                <Td colSpan={6}>
                  <ExpandableRowContent>
                    {isOpen && (
                      <Content>
                        <p>{f.vulnerability.Description}</p>
                        {f.vulnerability.Link.split(/\s+/)
                          .filter((l) => /^https?:\/\//.test(l))
                          .map((l) => (
                            <p key={l}>
                              <a href={l} target="_blank" rel="noopener noreferrer">
                                {l}
                              </a>
                            </p>
                          ))}
                        {cvss?.Score !== undefined && (
                          <p>
                            CVSS v3 score {cvss.Score}
                            {cvss.Vectors ? ` (${cvss.Vectors})` : ''}
                          </p>
                        )}
                      </Content>
                    )}
                  </ExpandableRowContent>
                </Td>
              </Tr>
            </Tbody>
          );
        })}
      </Table>
    </>
  );
}

/** The tag page's Packages tab: every package the scanner found, with its vulnerabilities. */
export function Packages({ repo, digest }: { repo: Repository; digest: string }) {
  const q = useSecurity(repo, digest);
  const [filter, setFilter] = useState('');
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} title="Unable to load the packages" />;
  const info = q.data!;
  if (info.status !== 'scanned')
    return <Empty title={info.status === 'queued' ? 'Security scan is currently queued' : 'No package information'}>The scanner has no package list for this manifest.</Empty>;
  const features = [...(info.data?.Layer.Features ?? [])].sort((a, b) => a.Name.localeCompare(b.Name));
  if (features.length === 0) return <Empty title="No packages were found in this manifest" />;
  const shown = features.filter((f) => f.Name.toLowerCase().includes(filter.toLowerCase()));
  // Each package counted once, under its most severe finding ("None" without one).
  const highest = new Map<string, number>();
  for (const f of features) {
    const top = findings({ status: 'scanned', data: { Layer: { Features: [f] } } })[0]?.severity ?? 'None';
    highest.set(top, (highest.get(top) ?? 0) + 1);
  }
  const byHighest: [string, number][] = [...SEVERITIES, 'None'].map((s) => [s, highest.get(s) ?? 0]);
  return (
    <>
      <Flex alignItems={{ default: 'alignItemsCenter' }} data-testid="package-chart">
        <Suspense fallback={null}>
          <SeverityDonut counts={byHighest} title={String(features.length)} subTitle="packages" label="Packages by highest severity" />
        </Suspense>
        <Content style={{ margin: '1rem 0' }}>
          <p data-testid="package-total">
            Quay Security Reporting has recognized {features.length} packages; {features.filter((f) => f.Vulnerabilities?.length).length} of them have vulnerabilities.
          </p>
        </Content>
      </Flex>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput placeholder="Filter packages" aria-label="Filter packages" value={filter} onChange={(_e, v) => setFilter(v)} onClear={() => setFilter('')} />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <Table aria-label="Packages" variant="compact">
        <Thead>
          <Tr>
            <Th>Package Name</Th>
            <Th>Package Version</Th>
            <Th>Vulnerabilities</Th>
            <Th>Remaining After Upgrade</Th>
            <Th>Introduced In Layer</Th>
          </Tr>
        </Thead>
        <Tbody>
          {shown.map((f) => {
            const list = findings({ status: 'scanned', data: { Layer: { Features: [f] } } });
            const remaining = list.filter((x) => !x.vulnerability.FixedBy);
            return (
              <Tr key={`${f.Name}/${f.Version}/${f.AddedBy ?? ''}`} data-testid="package-entry">
                <Td dataLabel="Package Name">{f.Name}</Td>
                <Td dataLabel="Package Version">{f.Version}</Td>
                <Td dataLabel="Vulnerabilities">{list.length ? <SeverityLabels list={list} testId="package-vulnerabilities" /> : 'None'}</Td>
                <Td dataLabel="Remaining After Upgrade">{remaining.length ? <SeverityLabels list={remaining} testId="package-remaining" /> : 'None'}</Td>
                <Td dataLabel="Introduced In Layer" className="quay-mono">
                  {f.AddedBy ? f.AddedBy.slice(0, 19) : '—'}
                </Td>
              </Tr>
            );
          })}
        </Tbody>
      </Table>
    </>
  );
}
