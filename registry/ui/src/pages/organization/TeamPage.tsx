/** Team page: members (users, robots, pending invitations), add and remove. */
import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Breadcrumb, BreadcrumbItem, Button, Label, PageSection, Title, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { useInvalidate, type Avatar as AvatarData } from '../../api/hooks';
import Avatar from '../../components/Avatar';
import { Empty, ErrorState, FormModal, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
import EntityPicker, { type Entity } from '../../components/EntityPicker';

interface TeamMember {
  name: string;
  kind: string;
  is_robot?: boolean;
  invited?: boolean;
  avatar?: AvatarData;
}

export default function TeamPage() {
  const { organizationName = '', teamName = '' } = useParams();
  const base = `/organization/${enc(organizationName)}/team/${enc(teamName)}/members`;
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [adding, setAdding] = useState(false);
  const [entity, setEntity] = useState<Entity | null>(null);
  const q = useQuery({ queryKey: ['team', organizationName, teamName], queryFn: () => api.get<{ members: TeamMember[]; can_edit: boolean }>(`${base}?includePending=true`) });
  const refresh = () => invalidate(['team', organizationName, teamName], ['organization', organizationName]);
  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/organization">Organizations</Link>
          </BreadcrumbItem>
          <BreadcrumbItem>
            <Link to={`/organization/${organizationName}?tab=Teamsandmembership`}>{organizationName}</Link>
          </BreadcrumbItem>
          <BreadcrumbItem isActive>{teamName}</BreadcrumbItem>
        </Breadcrumb>
        <Title headingLevel="h1" style={{ marginTop: '1rem' }}>
          Team {teamName}
        </Title>
      </PageSection>
      <PageSection>
        {q.data?.can_edit && (
          <Toolbar>
            <ToolbarContent>
              <ToolbarItem>
                <Button onClick={() => setAdding(true)}>Add new member</Button>
              </ToolbarItem>
            </ToolbarContent>
          </Toolbar>
        )}
        {q.isLoading ? (
          <Loading />
        ) : q.error ? (
          <ErrorState error={q.error} />
        ) : q.data!.members.length === 0 ? (
          <Empty title="This team has no members" />
        ) : (
          <Table aria-label="Team members" variant="compact">
            <Thead>
              <Tr>
                <Th>Team member</Th>
                <Th>Type</Th>
                {q.data!.can_edit && <Th screenReaderText="Actions" />}
              </Tr>
            </Thead>
            <Tbody>
              {q.data!.members.map((m) => (
                <Tr key={m.name} data-testid="table-entry">
                  <Td dataLabel="Team member">
                    <Avatar avatar={m.avatar} />
                    {m.name}
                    {m.invited && (
                      <Label isCompact color="orange" style={{ marginLeft: 8 }}>
                        invited
                      </Label>
                    )}
                  </Td>
                  <Td dataLabel="Type">{m.is_robot ? 'Robot account' : m.invited ? 'Invited' : 'User'}</Td>
                  {q.data!.can_edit && (
                    <Td isActionCell>
                      <Button
                        variant="link"
                        isDanger
                        aria-label={`Remove ${m.name}`}
                        onClick={async () => {
                          try {
                            await api.del(`${base}/${enc(m.name)}`);
                            alert('success', `Removed ${m.name} from ${teamName}`);
                          } catch (e) {
                            alert('danger', errorMessage(e));
                          }
                          await refresh();
                        }}
                      >
                        Remove
                      </Button>
                    </Td>
                  )}
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
      </PageSection>
      <FormModal
        title="Add new member"
        isOpen={adding}
        onClose={() => { setAdding(false); setEntity(null); }}
        submitLabel="Add member"
        submitDisabled={!entity}
        onSubmit={async () => {
          const r = await api.put<{ invited?: boolean }>(`${base}/${enc(entity!.name)}`);
          await refresh();
          // Users outside the organization are invited; they join when they accept.
          alert('success', r.invited ? `Invited ${entity!.name} to ${teamName}` : `Added ${entity!.name} to ${teamName}`);
        }}
      >
        <EntityPicker namespace={organizationName} value={entity} onChange={setEntity} includeTeams={false} label="User or robot account" />
      </FormModal>
    </>
  );
}
