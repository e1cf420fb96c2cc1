/** Teams and membership: Team View (roles, create, delete), Members View, Collaborators View. */
import { useState } from 'react';
import { Button, FormSelect, FormSelectOption, ToggleGroup, ToggleGroupItem, ToolbarItem } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router-dom';
import { api, enc } from '../../api/client';
import type { Avatar as AvatarData } from '../../api/hooks';
import Avatar from '../../components/Avatar';
import ListWithActions from '../../components/ListWithActions';
import { useRunAction } from '../../components/runAction';
import RepositoryPermissionsModal from '../../components/RepositoryPermissionsModal';
import CreateTeamWizard from './CreateTeamWizard';
import type { Org, TeamSummary } from './types';

const ROLES = ['member', 'creator', 'admin'];

interface Member {
  name: string;
  kind: string;
  avatar?: AvatarData;
  teams?: { name: string }[];
  repositories?: string[];
}

function TeamView({ org }: { org: Org }) {
  const navigate = useNavigate();
  const key = ['organization', org.name];
  const [creating, setCreating] = useState(false);
  const [perms, setPerms] = useState<TeamSummary | null>(null);
  const base = `/organization/${enc(org.name)}/team`;
  const teams = (org.ordered_teams ?? Object.keys(org.teams ?? {})).map((t) => org.teams![t]).filter(Boolean);
  const run = useRunAction([key]);
  const roleSelect = (id: string, label: string, value: string, onChange: (v: string) => void) => (
    <FormSelect id={id} value={value} onChange={(_e, v) => onChange(v)} aria-label={label} style={{ width: 'auto' }}>
      {ROLES.map((r) => (
        <FormSelectOption key={r} value={r} label={r.charAt(0).toUpperCase() + r.slice(1)} />
      ))}
    </FormSelect>
  );
  return (
    <>
      <ListWithActions<TeamSummary>
        label="Teams"
        query={{ data: teams, isLoading: false, error: null }}
        rowKey={(t) => t.name}
        filterText={(t) => t.name}
        columns={[
          {
            title: 'Team name',
            cell: (t) => (
              <>
                <Avatar avatar={t.avatar} />
                <Link to={`/organization/${org.name}/teams/${t.name}`}>{t.name}</Link>
              </>
            ),
          },
          { title: 'Members', cell: (t) => t.member_count },
          { title: 'Repositories', cell: (t) => t.repo_count },
          {
            title: 'Team role',
            cell: (t) =>
              org.is_admin
                ? roleSelect(
                    `team-role-${t.name}`,
                    `Role of team ${t.name}`,
                    t.role,
                    (r) => void run(`Team ${t.name} is now ${r}`, () => api.put(`${base}/${enc(t.name)}`, { role: r })),
                  )
                : t.role,
          },
        ]}
        actions={
          org.is_admin
            ? () => [
                { title: 'Manage team members', open: (t) => navigate(`/organization/${org.name}/teams/${t.name}`) },
                { title: 'Set repository permissions', open: setPerms },
                {
                  title: 'Delete',
                  confirm: (t) => `Delete the team ${t.name}? Its members lose the permissions it gave them.`,
                  run: (t) => api.del(`${base}/${enc(t.name)}`),
                  done: (t) => `Deleted team ${t.name}`,
                },
              ]
            : undefined
        }
        toolbar={
          org.is_admin && (
            <ToolbarItem>
              <Button onClick={() => setCreating(true)}>Create new team</Button>
            </ToolbarItem>
          )
        }
        empty={{ title: 'No teams', body: 'Teams give their members a role in the organization and permissions on its repositories.' }}
        invalidates={[key]}
      />
      {creating && <CreateTeamWizard org={org.name} onClose={() => setCreating(false)} />}
      {perms && (
        <RepositoryPermissionsModal
          namespace={org.name}
          entity={{ kind: 'team', name: perms.name }}
          permissionsPath={`${base}/${enc(perms.name)}/permissions`}
          onClose={() => setPerms(null)}
        />
      )}
    </>
  );
}

function MembersView({ org, collaborators }: { org: Org; collaborators: boolean }) {
  const path = `/organization/${enc(org.name)}/${collaborators ? 'collaborators' : 'members'}`;
  const key = ['organization', org.name, collaborators ? 'collaborators' : 'members'];
  const q = useQuery({ queryKey: key, queryFn: () => api.get<{ members?: Member[]; collaborators?: Member[] }>(path), select: (d) => d.members ?? d.collaborators ?? [] });
  return (
    <ListWithActions<Member>
      label={collaborators ? 'Collaborators' : 'Members'}
      query={q}
      rowKey={(m) => m.name}
      rowTestId="member-entry"
      filterText={(m) => m.name}
      columns={[
        {
          title: 'User name',
          cell: (m) => (
            <>
              <Avatar avatar={m.avatar} />
              {m.name}
            </>
          ),
        },
        { title: 'Teams', cell: (m) => (m.teams ?? []).map((t) => t.name).join(', ') },
        { title: 'Direct repository permissions', cell: (m) => (m.repositories ?? []).length },
      ]}
      actions={
        collaborators && org.is_admin
          ? () => [
              {
                title: 'Remove',
                confirm: (m) => `Remove ${m.name}'s permissions on every repository of ${org.name}?`,
                run: (m) => api.del(`/organization/${enc(org.name)}/members/${enc(m.name)}`),
                done: (m) => `Removed ${m.name}`,
              },
            ]
          : undefined
      }
      empty={collaborators ? { title: 'No collaborators', body: 'Users outside the organization with permissions on its repositories appear here.' } : { title: 'No members' }}
      invalidates={[['organization', org.name]]}
    />
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
