/** Teams and membership: Team View (roles, create, delete), Members View, Collaborators View. */
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { Button, FormGroup, FormSelect, FormSelectOption, TextInput, ToggleGroup, ToggleGroupItem, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { useNavigate } from 'react-router-dom';
import { api, enc } from '../../api/client';
import { useInvalidate, type Avatar as AvatarData } from '../../api/hooks';
import Avatar from '../../components/Avatar';
import { Empty, ErrorState, FormModal, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
import type { Org } from './types';

const ROLES = ['member', 'creator', 'admin'];

interface Member {
  name: string;
  kind: string;
  avatar?: AvatarData;
  teams?: { name: string }[];
  repositories?: string[];
}

function TeamView({ org }: { org: Org }) {
  const invalidate = useInvalidate();
  const alert = useAlert();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [role, setRole] = useState('member');
  const base = `/organization/${enc(org.name)}/team`;
  const teams = (org.ordered_teams ?? Object.keys(org.teams ?? {})).map((t) => org.teams![t]).filter(Boolean);
  const setTeamRole = async (team: string, newRole: string) => {
    try {
      await api.put(`${base}/${enc(team)}`, { role: newRole });
      alert('success', `Team ${team} is now ${newRole}`);
    } catch (e) {
      alert('danger', errorMessage(e));
    }
    await invalidate(['organization', org.name]);
  };
  const remove = async (team: string) => {
    try {
      await api.del(`${base}/${enc(team)}`);
      alert('success', `Deleted team ${team}`);
    } catch (e) {
      alert('danger', errorMessage(e));
    }
    await invalidate(['organization', org.name]);
  };
  return (
    <>
      {org.is_admin && (
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <Button onClick={() => setCreating(true)}>Create new team</Button>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
      )}
      <Table aria-label="Teams" variant="compact">
        <Thead>
          <Tr>
            <Th>Team name</Th>
            <Th>Members</Th>
            <Th>Repositories</Th>
            <Th>Team role</Th>
            {org.is_admin && <Th screenReaderText="Actions" />}
          </Tr>
        </Thead>
        <Tbody>
          {teams.map((t) => (
            <Tr key={t.name} data-testid="table-entry">
              <Td dataLabel="Team name">
                <Avatar avatar={t.avatar} />
                <Link to={`/organization/${org.name}/teams/${t.name}`}>{t.name}</Link>
              </Td>
              <Td dataLabel="Members">{t.member_count}</Td>
              <Td dataLabel="Repositories">{t.repo_count}</Td>
              <Td dataLabel="Team role">
                {org.is_admin ? (
                  <FormSelect value={t.role} onChange={(_e, v) => setTeamRole(t.name, v)} aria-label={`Role of team ${t.name}`} style={{ width: 'auto' }}>
                    {ROLES.map((r) => (
                      <FormSelectOption key={r} value={r} label={r.charAt(0).toUpperCase() + r.slice(1)} />
                    ))}
                  </FormSelect>
                ) : (
                  t.role
                )}
              </Td>
              {org.is_admin && (
                <Td isActionCell>
                  <ActionsColumn
                    items={[
                      { title: 'Manage team members', onClick: () => navigate(`/organization/${org.name}/teams/${t.name}`) },
                      { title: 'Delete', onClick: () => remove(t.name) },
                    ]}
                  />
                </Td>
              )}
            </Tr>
          ))}
        </Tbody>
      </Table>
      <FormModal
        title="Create team"
        isOpen={creating}
        onClose={() => setCreating(false)}
        submitLabel="Create team"
        submitDisabled={!/^[a-z][a-z0-9]+$/.test(name)}
        onSubmit={async () => {
          await api.put(`${base}/${enc(name)}`, { name, role, description });
          await invalidate(['organization', org.name]);
          alert('success', `Created team ${name}`);
          setName('');
          setDescription('');
        }}
      >
        <FormGroup label="Team name" fieldId="team-name" isRequired>
          <TextInput id="team-name" value={name} onChange={(_e, v) => setName(v)} />
        </FormGroup>
        <FormGroup label="Description" fieldId="team-description">
          <TextInput id="team-description" value={description} onChange={(_e, v) => setDescription(v)} />
        </FormGroup>
        <FormGroup label="Team role" fieldId="team-role">
          <FormSelect id="team-role" value={role} onChange={(_e, v) => setRole(v)}>
            {ROLES.map((r) => (
              <FormSelectOption key={r} value={r} label={r.charAt(0).toUpperCase() + r.slice(1)} />
            ))}
          </FormSelect>
        </FormGroup>
      </FormModal>
    </>
  );
}

function MembersView({ org, collaborators }: { org: Org; collaborators: boolean }) {
  const path = `/organization/${enc(org.name)}/${collaborators ? 'collaborators' : 'members'}`;
  const invalidate = useInvalidate();
  const alert = useAlert();
  const q = useQuery({ queryKey: ['organization', org.name, collaborators ? 'collaborators' : 'members'], queryFn: () => api.get<{ members?: Member[]; collaborators?: Member[] }>(path) });
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} />;
  const rows = q.data!.members ?? q.data!.collaborators ?? [];
  if (rows.length === 0) return <Empty title={collaborators ? 'No collaborators' : 'No members'}>{collaborators ? 'Users outside the organization with permissions on its repositories appear here.' : undefined}</Empty>;
  return (
    <Table aria-label={collaborators ? 'Collaborators' : 'Members'} variant="compact">
      <Thead>
        <Tr>
          <Th>User name</Th>
          <Th>Teams</Th>
          <Th>Direct repository permissions</Th>
          {collaborators && org.is_admin && <Th screenReaderText="Actions" />}
        </Tr>
      </Thead>
      <Tbody>
        {rows.map((m) => (
          <Tr key={m.name}>
            <Td dataLabel="User name">
              <Avatar avatar={m.avatar} />
              {m.name}
            </Td>
            <Td dataLabel="Teams">{(m.teams ?? []).map((t) => t.name).join(', ')}</Td>
            <Td dataLabel="Direct repository permissions">{(m.repositories ?? []).length}</Td>
            {collaborators && org.is_admin && (
              <Td isActionCell>
                <Button
                  variant="link"
                  isDanger
                  onClick={async () => {
                    try {
                      await api.del(`/organization/${enc(org.name)}/members/${enc(m.name)}`);
                      alert('success', `Removed ${m.name}`);
                    } catch (e) {
                      alert('danger', errorMessage(e));
                    }
                    await invalidate(['organization', org.name]);
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
  );
}

export default function Teams({ org }: { org: Org }) {
  const [view, setView] = useState<'team' | 'members' | 'collaborators'>('team');
  return (
    <>
      <ToggleGroup aria-label="Teams and membership view">
        <ToggleGroupItem text="Team View" isSelected={view === 'team'} onChange={() => setView('team')} />
        <ToggleGroupItem text="Members View" isSelected={view === 'members'} onChange={() => setView('members')} />
        <ToggleGroupItem text="Collaborators View" isSelected={view === 'collaborators'} onChange={() => setView('collaborators')} />
      </ToggleGroup>
      <div style={{ marginTop: '1rem' }}>{view === 'team' ? <TeamView org={org} /> : <MembersView org={org} collaborators={view === 'collaborators'} />}</div>
    </>
  );
}
