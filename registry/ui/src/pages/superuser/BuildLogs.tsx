/**
 * Superuser Build Logs (`/build-logs`, with BUILD_SUPPORT): any build by its uuid, for support staff reading
 * a user's failed build: `GET /api/v1/superuser/{uuid}/build` and its log from `/superuser/{uuid}/logs`,
 * with the repository build page's summary and log viewer. The uuid stays in the URL (`?uuid=`).
 */
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Button, Flex, Form, FormGroup, PageSection, TextInput, Title } from '@patternfly/react-core';
import { enc } from '../../api/client';
import { useMe } from '../../api/hooks';
import { Empty } from '../../components/common';
import { BuildLogViewer, BuildSummary, isFinal, useBuild } from '../repository/BuildLog';
import { PhaseLabel } from '../repository/Builds';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function SuperuserBuild({ uuid }: { uuid: string }) {
  const base = `/superuser/${enc(uuid)}`;
  const build = useBuild(['superuser', 'build', uuid], `${base}/build`);
  return (
    <>
      <Flex alignItems={{ default: 'alignItemsCenter' }} style={{ marginBottom: '1rem' }}>
        <Title headingLevel="h2">Build {uuid}</Title>
        {build.data && <PhaseLabel phase={build.data.phase} />}
      </Flex>
      <BuildSummary build={build} showRepository />
      {build.data && <BuildLogViewer logsPath={`${base}/logs`} final={isFinal(build.data)} />}
    </>
  );
}

export default function BuildLogs() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const shown = params.get('uuid') ?? '';
  const [typed, setTyped] = useState(shown);
  const valid = UUID.test(typed.trim());
  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Build Logs</Title>
      </PageSection>
      <PageSection>
        {!me.super_user ? (
          <Empty title="Superusers only">This page shows the log of any build of the registry.</Empty>
        ) : (
          <>
            <Form
              isHorizontal
              style={{ maxWidth: '48rem', marginBottom: '1.5rem' }}
              onSubmit={(e) => {
                e.preventDefault();
                if (valid) setParams({ uuid: typed.trim() });
              }}
            >
              <FormGroup label="Build UUID" fieldId="build-uuid" isRequired>
                <Flex flexWrap={{ default: 'nowrap' }}>
                  <TextInput
                    id="build-uuid"
                    value={typed}
                    onChange={(_e, v) => setTyped(v)}
                    placeholder="00000000-0000-0000-0000-000000000000"
                    validated={typed && !valid ? 'error' : 'default'}
                  />
                  <Button type="submit" isDisabled={!valid}>
                    Get Logs
                  </Button>
                </Flex>
              </FormGroup>
            </Form>
            {shown && UUID.test(shown) && <SuperuserBuild key={shown} uuid={shown} />}
          </>
        )}
      </PageSection>
    </>
  );
}
