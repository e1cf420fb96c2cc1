/** Repository page: tabs Information, Tags, Tag history, Builds, Mirroring, Logs, Settings (`?tab=`). */
import { lazy, Suspense, useState } from 'react';
import { Link, Navigate, useSearchParams } from 'react-router-dom';
import {
  Breadcrumb,
  BreadcrumbItem,
  Button,
  Card,
  CardBody,
  CardHeader,
  CardTitle,
  Flex,
  FlexItem,
  FormGroup,
  Gallery,
  Label,
  PageSection,
  Tab,
  TabTitleText,
  Tabs,
  TextArea,
  Title,
} from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, ApiError, repoPath } from '../../api/client';
import { useInvalidate, useMe, useRegistryInfo, useUser } from '../../api/hooks';
import { Copy, ErrorState, FormModal, Loading } from '../../components/common';
import type { Repository } from './types';

// Only the Information tab renders Markdown: its parser stays out of the other tabs' load.
const Markdown = lazy(() => import('../../components/Markdown'));
import Tags from './Tags';
import { repositoryQuery } from './queries';

const TagHistory = lazy(() => import('./TagHistory'));
const UsageLogs = lazy(() => import('../UsageLogs'));
const RepoSettings = lazy(() => import('./RepoSettings'));
const Builds = lazy(() => import('./Builds'));
const Mirroring = lazy(() => import('./Mirroring'));

export function useRepository(namespace: string, repo: string) {
  return useQuery(repositoryQuery(namespace, repo));
}

function Information({ repo }: { repo: Repository }) {
  const { host } = useRegistryInfo();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(repo.description ?? '');
  const invalidate = useInvalidate();
  const ref = `${host}/${repo.namespace}/${repo.name}`;
  return (
    <Gallery hasGutter minWidths={{ default: '100%', lg: '45%' }}>
      <Card>
        <CardTitle>Pull Commands</CardTitle>
        <CardBody>
          <Flex direction={{ default: 'column' }}>
            <FlexItem>
              <strong>Podman</strong>
              <Copy label="Podman pull command" value={`podman pull ${ref}`} testId="pull-podman" />
            </FlexItem>
            <FlexItem>
              <strong>Docker</strong>
              <Copy label="Docker pull command" value={`docker pull ${ref}`} testId="pull-docker" />
            </FlexItem>
          </Flex>
        </CardBody>
      </Card>
      <Card>
        <CardHeader
          actions={
            repo.can_write
              ? {
                  actions: (
                    <Button
                      variant="secondary"
                      onClick={() => {
                        setText(repo.description ?? '');
                        setEditing(true);
                      }}
                    >
                      Edit description
                    </Button>
                  ),
                }
              : undefined
          }
        >
          <CardTitle>Description</CardTitle>
        </CardHeader>
        <CardBody>
          {repo.description ? (
            <Suspense fallback={<Loading />}>
              <Markdown source={repo.description} />
            </Suspense>
          ) : (
            <em>No description has been set for this repository.</em>
          )}
        </CardBody>
      </Card>
      <FormModal
        title="Edit description"
        isOpen={editing}
        onClose={() => setEditing(false)}
        submitLabel="Save"
        variant="medium"
        onSubmit={async () => {
          await api.put(repoPath(repo.namespace, repo.name), { description: text });
          await invalidate(['repository', repo.namespace, repo.name]);
        }}
      >
        <FormGroup label="Description (Markdown)" fieldId="edit-description">
          <TextArea id="edit-description" value={text} onChange={(_e, v) => setText(v)} rows={10} resizeOrientation="vertical" />
        </FormGroup>
      </FormModal>
    </Gallery>
  );
}

const TABS = ['information', 'tags', 'history', 'builds', 'mirroring', 'logs', 'settings'] as const;

export default function RepositoryDetails({ namespace, repo }: { namespace: string; repo: string }) {
  const [params, setParams] = useSearchParams();
  const me = useMe();
  const { data: user } = useUser();
  const { features } = useRegistryInfo();
  // Started by the route (with the Tags tab's first page) before this page's code had loaded.
  const q = useRepository(namespace, repo);
  if (q.isLoading) return <Loading />;
  if (q.error) {
    const refused = q.error instanceof ApiError && (q.error.status === 401 || q.error.status === 403);
    if (refused && !user) return <Loading />;
    if (refused && user?.anonymous) {
      return <Navigate to={`/signin?redirect=${encodeURIComponent(`/repository/${namespace}/${repo}`)}`} replace />;
    }
    return (
      <PageSection>
        <ErrorState error={q.error} title={`Repository ${namespace}/${repo}`} />
      </PageSection>
    );
  }
  const r = q.data!;
  // Builds as in Quay: BUILD_SUPPORT, a repository in the normal state, writers and admins.
  const builds = !!features.BUILD_SUPPORT && r.state === 'NORMAL' && (r.can_write || r.can_admin);
  const shown: Record<(typeof TABS)[number], boolean> = {
    information: true,
    tags: true,
    history: r.can_write,
    builds,
    // Mirroring as in Quay: FEATURE_REPO_MIRROR and admins; the tab explains how to enter the MIRROR state.
    mirroring: !!features.REPO_MIRROR && r.can_admin,
    logs: r.can_write || r.can_admin,
    settings: r.can_admin,
  };
  const visible = TABS.filter((t) => shown[t]);
  const wanted = (params.get('tab') ?? 'information').toLowerCase();
  const tab = (visible as string[]).includes(wanted) ? wanted : 'information';
  const nsLink = r.is_organization ? `/organization/${namespace}` : `/user/${namespace}`;
  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/repository">Repositories</Link>
          </BreadcrumbItem>
          <BreadcrumbItem>{me.anonymous ? namespace : <Link to={nsLink}>{namespace}</Link>}</BreadcrumbItem>
          <BreadcrumbItem isActive>{repo}</BreadcrumbItem>
        </Breadcrumb>
        <Flex alignItems={{ default: 'alignItemsCenter' }} style={{ marginTop: '1rem' }}>
          <Title headingLevel="h1" data-testid="repo-title">
            {namespace}/{repo}
          </Title>
          <Label color={r.is_public ? 'green' : 'orange'}>{r.is_public ? 'public' : 'private'}</Label>
          {r.state !== 'NORMAL' && <Label color="purple">{r.state}</Label>}
        </Flex>
      </PageSection>
      <PageSection>
        <Tabs activeKey={tab} onSelect={(_e, k) => setParams({ tab: String(k) })} aria-label="Repository tabs" mountOnEnter unmountOnExit>
          <Tab eventKey="information" title={<TabTitleText>Information</TabTitleText>}>
            <div style={{ paddingTop: '1rem' }}>
              <Information repo={r} />
            </div>
          </Tab>
          <Tab eventKey="tags" title={<TabTitleText>Tags</TabTitleText>}>
            <Tags repo={r} />
          </Tab>
          {visible.includes('history') && (
            <Tab eventKey="history" title={<TabTitleText>Tag history</TabTitleText>}>
              <Suspense fallback={<Loading />}>
                <TagHistory repo={r} />
              </Suspense>
            </Tab>
          )}
          {visible.includes('builds') && (
            <Tab eventKey="builds" title={<TabTitleText>Builds</TabTitleText>}>
              <Suspense fallback={<Loading />}>
                <Builds repo={r} />
              </Suspense>
            </Tab>
          )}
          {visible.includes('mirroring') && (
            <Tab eventKey="mirroring" title={<TabTitleText>Mirroring</TabTitleText>}>
              <Suspense fallback={<Loading />}>
                <Mirroring repo={r} />
              </Suspense>
            </Tab>
          )}
          {visible.includes('logs') && (
            <Tab eventKey="logs" title={<TabTitleText>Logs</TabTitleText>}>
              <Suspense fallback={<Loading />}>
                <UsageLogs scope={{ kind: 'repository', namespace, repo }} />
              </Suspense>
            </Tab>
          )}
          {visible.includes('settings') && (
            <Tab eventKey="settings" title={<TabTitleText>Settings</TabTitleText>}>
              <Suspense fallback={<Loading />}>
                <RepoSettings repo={r} />
              </Suspense>
            </Tab>
          )}
        </Tabs>
      </PageSection>
    </>
  );
}
