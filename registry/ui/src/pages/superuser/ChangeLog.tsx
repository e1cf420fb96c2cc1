/**
 * Superuser Change Log (`/change-log`): the registry's release notes from `GET /api/v1/superuser/changelog/`
 * (`{log}`, Markdown), rendered like every user-written Markdown here: no raw HTML, no `javascript:` links.
 */
import { PageSection, Title } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useMe } from '../../api/hooks';
import { Empty, ErrorState, Loading } from '../../components/common';
import Markdown from '../../components/Markdown';

export default function ChangeLog() {
  const me = useMe();
  const q = useQuery({ queryKey: ['superuser', 'changelog'], queryFn: () => api.get<{ log: string }>('/superuser/changelog/'), enabled: !!me.super_user, staleTime: Infinity });
  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Change Log</Title>
      </PageSection>
      {/* Focusable, so that keyboard users can scroll a log with no link in it. */}
      <PageSection data-testid="change-log" tabIndex={0} role="region" aria-label="Release notes">
        {!me.super_user ? (
          <Empty title="Superusers only">This page shows the registry&apos;s release notes.</Empty>
        ) : q.isLoading ? (
          <Loading />
        ) : q.error ? (
          <ErrorState error={q.error} title="Unable to load the change log" />
        ) : q.data!.log.trim() ? (
          <Markdown source={q.data!.log} />
        ) : (
          <Empty title="The change log is empty" />
        )}
      </PageSection>
    </>
  );
}
