/**
 * Organization page (`/organization/:name`, `/user/:name`), tabs by `?tab=`: Repositories, Teams and
 * membership, Robot accounts, Default permissions, OAuth Applications, Logs, Settings. A user namespace
 * shows its tabs only to its owner (Repositories for everyone).
 */
import { lazy, Suspense } from 'react';
import { useLocation, useParams, useSearchParams } from 'react-router-dom';
import { Flex, PageSection, Tab, TabTitleText, Tabs, Title } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, ApiError, enc } from '../../api/client';
import { useMe, useRegistryInfo } from '../../api/hooks';
import Avatar from '../../components/Avatar';
import { ErrorState, Loading } from '../../components/common';
import { RepositoriesTable } from '../RepositoriesList';
import type { Org } from './types';

const Teams = lazy(() => import('./Teams'));
const Robots = lazy(() => import('./Robots'));
const DefaultPermissions = lazy(() => import('./DefaultPermissions'));
const OAuthApps = lazy(() => import('./OAuthApps'));
const UsageLogs = lazy(() => import('../UsageLogs'));
const NamespaceSettings = lazy(() => import('./NamespaceSettings'));
const QuotaBar = lazy(() => import('./NamespaceSettings').then((m) => ({ default: m.QuotaBar })));

export function useOrganization(name: string, enabled = true) {
  return useQuery({ queryKey: ['organization', name], queryFn: () => api.get<Org>(`/organization/${enc(name)}`), enabled });
}

export default function Organization() {
  const { organizationName = '' } = useParams();
  const { pathname } = useLocation();
  const [params, setParams] = useSearchParams();
  const me = useMe();
  const { readonly, features } = useRegistryInfo();
  const isMe = organizationName === me.username;
  const isUserPath = pathname.startsWith('/user/');
  // A name is an organization unless it is the user's own or the URL says /user/.
  const q = useOrganization(organizationName, !isMe && !isUserPath);
  if (q.isLoading) return <Loading />;
  const notOrg = q.error instanceof ApiError && q.error.status === 404;
  if (q.error && !notOrg) {
    return (
      <PageSection>
        <ErrorState error={q.error} title={`Organization ${organizationName}`} />
      </PageSection>
    );
  }
  const isUser = isMe || isUserPath || notOrg;
  const org = q.data;
  const admin = isUser ? isMe : !!org?.is_admin;
  const member = isUser ? isMe : !!org?.is_member;
  const tabs: { key: string; title: string; show: boolean }[] = [
    { key: 'Repositories', title: 'Repositories', show: true },
    { key: 'Teamsandmembership', title: 'Teams and membership', show: !isUser && member },
    { key: 'Robotaccounts', title: 'Robot accounts', show: admin && !readonly },
    { key: 'Defaultpermissions', title: 'Default permissions', show: !isUser && admin },
    { key: 'OAuthApplications', title: 'OAuth Applications', show: !isUser && admin },
    // A user's own usage logs are shown with FEATURE_USER_LOG_ACCESS, as in Quay.
    { key: 'Logs', title: 'Logs', show: admin && (!isUser || !!features.USER_LOG_ACCESS) },
    { key: 'Settings', title: 'Settings', show: admin && !readonly },
  ].filter((t) => t.show);
  const wanted = params.get('tab') ?? 'Repositories';
  const active = tabs.find((t) => t.key.toLowerCase() === wanted.toLowerCase())?.key ?? 'Repositories';
  const content = (key: string) => {
    switch (key) {
      case 'Repositories': {
        const report = isMe ? me.quota_report : org?.quota_report;
        const limits = isMe ? (me as { quotas?: Org['quotas'] }).quotas?.[0]?.limits : org?.quotas?.[0]?.limits;
        return (
          <>
            {report?.configured_quota ? (
              <div style={{ maxWidth: '40rem', marginBottom: '1rem' }}>
                <Suspense fallback={null}>
                  <QuotaBar report={report} limits={limits} />
                </Suspense>
              </div>
            ) : null}
            <RepositoriesTable namespace={organizationName} />
          </>
        );
      }
      case 'Teamsandmembership':
        return <Teams org={org!} />;
      case 'Robotaccounts':
        return <Robots namespace={organizationName} isUser={isUser} />;
      case 'Defaultpermissions':
        return <DefaultPermissions org={organizationName} />;
      case 'OAuthApplications':
        return <OAuthApps org={organizationName} />;
      case 'Logs':
        return <UsageLogs scope={isUser ? { kind: 'user' } : { kind: 'organization', namespace: organizationName }} />;
      case 'Settings':
        return <NamespaceSettings name={organizationName} org={isUser ? null : org!} />;
    }
  };
  return (
    <>
      <PageSection>
        <Flex alignItems={{ default: 'alignItemsCenter' }}>
          <Avatar avatar={isMe ? me.avatar : org?.avatar} />
          <Title headingLevel="h1" data-testid="org-title">
            {organizationName}
          </Title>
        </Flex>
      </PageSection>
      <PageSection>
        <Tabs activeKey={active} onSelect={(_e, k) => setParams({ tab: String(k) })} aria-label="Organization tabs" mountOnEnter unmountOnExit>
          {tabs.map((t) => (
            <Tab key={t.key} eventKey={t.key} title={<TabTitleText>{t.title}</TabTitleText>}>
              <div style={{ paddingTop: '1rem' }}>
                <Suspense fallback={<Loading />}>{content(t.key)}</Suspense>
              </div>
            </Tab>
          ))}
        </Tabs>
      </PageSection>
    </>
  );
}
