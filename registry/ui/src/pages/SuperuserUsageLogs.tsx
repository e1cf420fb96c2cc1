import { PageSection, Title } from '@patternfly/react-core';
import { useMe } from '../api/hooks';
import { Empty } from '../components/common';
import UsageLogs from './UsageLogs';

export default function SuperuserUsageLogs() {
  const me = useMe();
  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Usage Logs</Title>
      </PageSection>
      <PageSection>
        {me.super_user ? <UsageLogs scope={{ kind: 'superuser' }} /> : <Empty title="Superusers only">This page shows the logs of the whole registry.</Empty>}
      </PageSection>
    </>
  );
}
