/**
 * Tag details (`…/tag/:tag` or `…/manifest/:digest`): Details (digest, size, vulnerabilities, labels, pull
 * commands), Layers, and with FEATURE_SECURITY_SCANNER the Security Report and Packages.
 */
import { Link, useSearchParams } from 'react-router-dom';
import {
  Breadcrumb,
  BreadcrumbItem,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  FormSelect,
  FormSelectOption,
  Label,
  LabelGroup,
  PageSection,
  Tab,
  TabTitleText,
  Tabs,
  Title,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import { useRegistryInfo } from '../../api/hooks';
import { bytes, dateTime } from '../../api/format';
import { Copy, ErrorState, Loading } from '../../components/common';
import { useRepository } from './RepositoryDetails';
import { findings, Packages, SecurityReport, SeverityLabels, useSecurity } from './Security';
import type { Repository, TagPage } from './types';

interface Layer {
  index: number;
  compressed_size: number | null;
  blob_digest: string;
  command: string[] | null;
  created_datetime: string | null;
}

interface Manifest {
  digest: string;
  is_manifest_list: boolean;
  manifest_data: string;
  layers?: Layer[];
  layers_compressed_size?: number;
}

function ManifestView({ repo, digest, tagName }: { repo: Repository; digest: string; tagName?: string }) {
  const [params, setParams] = useSearchParams();
  const { host, features } = useRegistryInfo();
  const scanning = !!features.SECURITY_SCANNER;
  const base = repoPath(repo.namespace, repo.name);
  const m = useQuery({ queryKey: ['manifest', repo.namespace, repo.name, digest], queryFn: () => api.get<Manifest>(`${base}/manifest/${enc(digest)}`) });
  const children = m.data?.is_manifest_list
    ? ((JSON.parse(m.data.manifest_data) as { manifests?: { digest: string; platform?: { os: string; architecture: string; variant?: string } }[] }).manifests ?? [])
    : [];
  const childDigest = m.data?.is_manifest_list ? (params.get('digest') ?? children[0]?.digest) : undefined;
  const shown = childDigest ?? digest;
  const child = useQuery({
    queryKey: ['manifest', repo.namespace, repo.name, childDigest],
    queryFn: () => api.get<Manifest>(`${base}/manifest/${enc(childDigest!)}`),
    enabled: !!childDigest,
  });
  const labels = useQuery({
    queryKey: ['labels', repo.namespace, repo.name, shown],
    queryFn: () => api.get<{ labels: { id: string; key: string; value: string }[] }>(`${base}/manifest/${enc(shown)}/labels`),
  });
  const security = useSecurity(repo, shown, scanning && !!m.data && (!m.data.is_manifest_list || !!childDigest));
  if (m.isLoading || child.isLoading) return <Loading />;
  if (m.error || child.error) return <ErrorState error={m.error ?? child.error} />;
  const view = child.data ?? m.data!;
  const ref = `${host}/${repo.namespace}/${repo.name}`;
  const wanted = params.get('tab');
  const tab = wanted === 'layers' || ((wanted === 'securityreport' || wanted === 'packages') && scanning) ? wanted : 'details';
  const vulnerabilities = () => {
    if (!security.data) return security.error ? 'Unavailable' : 'Loading…';
    if (security.data.status !== 'scanned') return security.data.status === 'queued' ? 'Queued' : security.data.status === 'failed' ? 'Failed' : 'Unsupported';
    const list = findings(security.data);
    return list.length ? <SeverityLabels list={list} testId="vulnerability-summary" /> : 'None Detected';
  };
  const layers = [...(view.layers ?? [])].reverse();
  return (
    <>
      {children.length > 0 && (
        <FormSelect value={childDigest} onChange={(_e, v) => setParams({ tab, digest: v })} aria-label="Architecture" style={{ maxWidth: '20rem', marginBottom: '1rem' }}>
          {children.map((c) => (
            <FormSelectOption
              key={c.digest}
              value={c.digest}
              label={c.platform ? `${c.platform.os}/${c.platform.architecture}${c.platform.variant ? `/${c.platform.variant}` : ''}` : c.digest}
            />
          ))}
        </FormSelect>
      )}
      <Tabs activeKey={tab} onSelect={(_e, k) => setParams({ tab: String(k), ...(childDigest ? { digest: childDigest } : {}) })} aria-label="Tag details tabs">
        <Tab eventKey="details" title={<TabTitleText>Details</TabTitleText>}>
          <DescriptionList isHorizontal style={{ marginTop: '1rem' }} columnModifier={{ lg: '2Col' }}>
            {tagName && (
              <DescriptionListGroup>
                <DescriptionListTerm>Name</DescriptionListTerm>
                <DescriptionListDescription>{tagName}</DescriptionListDescription>
              </DescriptionListGroup>
            )}
            <DescriptionListGroup>
              <DescriptionListTerm>Repository</DescriptionListTerm>
              <DescriptionListDescription>
                {repo.namespace}/{repo.name}
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Digest</DescriptionListTerm>
              <DescriptionListDescription>
                <Copy label="Digest" value={shown} testId="manifest-digest" />
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Size</DescriptionListTerm>
              <DescriptionListDescription>{bytes(view.layers_compressed_size)}</DescriptionListDescription>
            </DescriptionListGroup>
            {scanning && (
              <DescriptionListGroup>
                <DescriptionListTerm>Vulnerabilities</DescriptionListTerm>
                <DescriptionListDescription>{vulnerabilities()}</DescriptionListDescription>
              </DescriptionListGroup>
            )}
            <DescriptionListGroup>
              <DescriptionListTerm>Labels</DescriptionListTerm>
              <DescriptionListDescription>
                {labels.data?.labels.length ? (
                  <LabelGroup numLabels={10}>
                    {labels.data.labels.map((l) => (
                      <Label key={l.id} isCompact>
                        {l.key}={l.value}
                      </Label>
                    ))}
                  </LabelGroup>
                ) : (
                  'None'
                )}
              </DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
          <Title headingLevel="h2" size="lg" style={{ marginTop: '1.5rem' }}>
            Fetch Tag
          </Title>
          <DescriptionList style={{ marginTop: '0.5rem' }}>
            {tagName && (
              <>
                <DescriptionListGroup>
                  <DescriptionListTerm>Podman Pull (by tag)</DescriptionListTerm>
                  <DescriptionListDescription>
                    <Copy label="Podman pull by tag" value={`podman pull ${ref}:${tagName}`} />
                  </DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Docker Pull (by tag)</DescriptionListTerm>
                  <DescriptionListDescription>
                    <Copy label="Docker pull by tag" value={`docker pull ${ref}:${tagName}`} />
                  </DescriptionListDescription>
                </DescriptionListGroup>
              </>
            )}
            <DescriptionListGroup>
              <DescriptionListTerm>Podman Pull (by digest)</DescriptionListTerm>
              <DescriptionListDescription>
                <Copy label="Podman pull by digest" value={`podman pull ${ref}@${shown}`} />
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Docker Pull (by digest)</DescriptionListTerm>
              <DescriptionListDescription>
                <Copy label="Docker pull by digest" value={`docker pull ${ref}@${shown}`} />
              </DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
        </Tab>
        <Tab eventKey="layers" title={<TabTitleText>Layers</TabTitleText>}>
          <Table aria-label="Layers" variant="compact">
            <Thead>
              <Tr>
                <Th>Command</Th>
                <Th>Size</Th>
                <Th>Created</Th>
                <Th>Blob</Th>
              </Tr>
            </Thead>
            <Tbody>
              {layers.map((l) => (
                <Tr key={`${l.index}-${l.blob_digest}`}>
                  <Td dataLabel="Command" className="quay-mono">
                    {(l.command ?? []).join(' ') || '—'}
                  </Td>
                  <Td dataLabel="Size">{bytes(l.compressed_size)}</Td>
                  <Td dataLabel="Created">{dateTime(l.created_datetime, '')}</Td>
                  <Td dataLabel="Blob" className="quay-mono">
                    {l.blob_digest.slice(0, 19)}
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        </Tab>
        {scanning && (
          <Tab eventKey="securityreport" title={<TabTitleText>Security Report</TabTitleText>}>
            {tab === 'securityreport' && <SecurityReport repo={repo} digest={shown} />}
          </Tab>
        )}
        {scanning && (
          <Tab eventKey="packages" title={<TabTitleText>Packages</TabTitleText>}>
            {tab === 'packages' && <Packages repo={repo} digest={shown} />}
          </Tab>
        )}
      </Tabs>
    </>
  );
}

export default function TagDetails({ namespace, repo, tag, digest }: { namespace: string; repo: string; tag?: string; digest?: string }) {
  const r = useRepository(namespace, repo);
  const t = useQuery({
    queryKey: ['tags', namespace, repo, 'specific', tag],
    queryFn: () => api.get<TagPage>(`${repoPath(namespace, repo)}/tag/?specificTag=${enc(tag!)}&onlyActiveTags=true`),
    enabled: !!tag,
  });
  const found = t.data?.tags.find((x) => x.name === tag);
  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/repository">Repositories</Link>
          </BreadcrumbItem>
          <BreadcrumbItem>
            <Link to={`/repository/${namespace}/${repo}?tab=tags`}>
              {namespace}/{repo}
            </Link>
          </BreadcrumbItem>
          <BreadcrumbItem isActive>{tag ?? digest}</BreadcrumbItem>
        </Breadcrumb>
        <Title headingLevel="h1" style={{ marginTop: '1rem' }}>
          {tag ?? digest}
        </Title>
      </PageSection>
      <PageSection>
        {r.isLoading || t.isLoading ? (
          <Loading />
        ) : r.error || t.error ? (
          <ErrorState error={r.error ?? t.error} />
        ) : tag && !found ? (
          <ErrorState title="Tag not found" error={`There is no active tag ${tag} in ${namespace}/${repo}.`} />
        ) : (
          <ManifestView repo={r.data!} digest={found?.manifest_digest ?? digest!} tagName={tag} />
        )}
      </PageSection>
    </>
  );
}
