/**
 * Team page: members (users, robots, pending invitations of users and e-mail addresses), add, invite by
 * e-mail (FEATURE_MAILING), remove or withdraw.
 */
import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Breadcrumb, BreadcrumbItem, Button, FormGroup, Label, PageSection, TextInput, Title, ToggleGroup, ToggleGroupItem, ToolbarItem } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { useInvalidate, useRegistryInfo, type Avatar as AvatarData } from '../../api/hooks';
import { useAlert } from '../../components/alerts';
import { FormModal } from '../../components/common';
import Avatar from '../../components/Avatar';
import ListWithActions from '../../components/ListWithActions';
import EntityPicker, { type Entity } from '../../components/EntityPicker';

/** A member, an invited user, or an invited e-mail address (kind `invite`: `email` and no name). */
interface TeamMember {
  name?: string;
  email?: string;
  kind: string;
  is_robot?: boolean;
  invited?: boolean;
  avatar?: AvatarData;
}

const VIEWS = [
  { id: 'all', text: 'All members', empty: 'This team has no members', shows: () => true },
  { id: 'members', text: 'Team member', empty: 'No users are members of this team', shows: (m: TeamMember) => !m.invited && !m.is_robot },
  { id: 'robots', text: 'Robot accounts', empty: 'No robot accounts are members of this team', shows: (m: TeamMember) => !!m.is_robot },
  { id: 'invited', text: 'Invited', empty: 'No pending invitations', shows: (m: TeamMember) => !!m.invited },
] as const;
type View = (typeof VIEWS)[number]['id'];

export default function TeamPage() {
  const { organizationName = '', teamName = '' } = useParams();
  const team = `/organization/${enc(organizationName)}/team/${enc(teamName)}`;
  const base = `${team}/members`;
  const who = (m: TeamMember) => m.name ?? m.email ?? '';
  const [entity, setEntity] = useState<Entity | null>(null);
  const { features } = useRegistryInfo();
  const [inviting, setInviting] = useState(false);
  const [email, setEmail] = useState('');
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [view, setView] = useState<View>('all');
  const shownView = VIEWS.find((v) => v.id === view)!;
  const q = useQuery({ queryKey: ['team', organizationName, teamName], queryFn: () => api.get<{ members: TeamMember[]; can_edit: boolean }>(`${base}?includePending=true`) });
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
        <ToggleGroup aria-label="Team members view" style={{ marginBottom: '1rem' }}>
          {VIEWS.map((v) => (
            <ToggleGroupItem key={v.id} text={v.text} isSelected={view === v.id} onChange={() => setView(v.id)} />
          ))}
        </ToggleGroup>
        <ListWithActions<TeamMember>
          label="Team members"
          query={{ ...q, data: q.data?.members.filter(shownView.shows) }}
          rowKey={(m) => `${m.kind}:${who(m)}`}
          filterText={who}
          columns={[
            {
              title: 'Team member',
              cell: (m) => (
                <>
                  <Avatar avatar={m.avatar} />
                  {who(m)}
                  {m.invited && (
                    <Label isCompact color="orange" style={{ marginLeft: 8 }}>
                      invited
                    </Label>
                  )}
                </>
              ),
            },
            { title: 'Type', cell: (m) => (m.is_robot ? 'Robot account' : m.kind === 'invite' ? 'Invited by e-mail' : m.invited ? 'Invited' : 'User') },
          ]}
          actions={
            q.data?.can_edit
              ? () => [
                  {
                    title: 'Remove',
                    confirm: (m) => (m.kind === 'invite' ? `Withdraw the invitation of ${who(m)} to team ${teamName}?` : `Remove ${who(m)} from team ${teamName}?`),
                    run: (m) => api.del(m.kind === 'invite' ? `${team}/invite/${enc(who(m))}` : `${base}/${enc(who(m))}`),
                    done: (m) => (m.kind === 'invite' ? `Withdrew the invitation of ${who(m)}` : `Removed ${who(m)} from ${teamName}`),
                  },
                ]
              : undefined
          }
          create={
            q.data?.can_edit
              ? {
                  label: 'Add new member',
                  submitLabel: 'Add member',
                  submitDisabled: !entity,
                  onSubmit: () => api.put<{ invited?: boolean }>(`${base}/${enc(entity!.name)}`),
                  // Users outside the organization are invited; they join when they accept.
                  done: (r) => `${(r as { invited?: boolean }).invited ? 'Invited' : 'Added'} ${entity!.name} to ${teamName}`,
                  onClose: () => setEntity(null),
                  fields: <EntityPicker namespace={organizationName} value={entity} onChange={setEntity} includeTeams={false} label="User or robot account" />,
                }
              : undefined
          }
          toolbar={
            q.data?.can_edit &&
            features.MAILING && (
              <ToolbarItem>
                <Button variant="secondary" onClick={() => setInviting(true)}>
                  Invite by e-mail
                </Button>
              </ToolbarItem>
            )
          }
          empty={{ title: shownView.empty }}
          invalidates={[
            ['team', organizationName, teamName],
            ['organization', organizationName],
          ]}
        />
        <FormModal
          title="Invite by e-mail"
          isOpen={inviting}
          submitLabel="Send invitation"
          submitDisabled={!/^[^@\s]+@[^@\s]+$/.test(email)}
          onClose={() => {
            setInviting(false);
            setEmail('');
          }}
          onSubmit={async () => {
            await api.put(`${team}/invite/${enc(email)}`);
            alert('success', `Invited ${email} to ${teamName}`);
            await invalidate(['team', organizationName, teamName]);
          }}
        >
          <FormGroup label="E-mail address" fieldId="invite-email" isRequired>
            <TextInput id="invite-email" type="email" value={email} onChange={(_e, v) => setEmail(v)} />
          </FormGroup>
        </FormModal>
      </PageSection>
    </>
  );
}
