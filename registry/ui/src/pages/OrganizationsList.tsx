/**
 * Organizations list: the user's organizations straight from GET /api/v1/user/ (one request, no per-row
 * calls), create organization; superusers get the registry's users and organizations in one table with
 * their management actions.
 */
import { useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { Button, FormGroup, Label, Modal, ModalBody, ModalHeader, PageSection, SearchInput, TextInput, Title, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../api/client';
import { useInvalidate, useMe, type Avatar as AvatarData } from '../api/hooks';
import Avatar from '../components/Avatar';
import { Copy, Empty, FormModal } from '../components/common';
import { useAlert } from '../components/alerts';

interface Row {
  name: string;
  kind: 'org' | 'user';
  avatar?: AvatarData;
  email?: string | null;
  role?: string;
  enabled?: boolean;
  superuser?: boolean;
}

function CreateOrganizationModal({ isOpen, onClose }: { isOpen: boolean; onClose: () => void }) {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const invalidate = useInvalidate();
  const alert = useAlert();
  return (
    <FormModal
      title="Create Organization"
      isOpen={isOpen}
      onClose={onClose}
      submitLabel="Create"
      submitDisabled={!/^[a-z0-9][a-z0-9_-]{1,254}$/.test(name)}
      onSubmit={async () => {
        await api.post('/organization/', { name, ...(email ? { email } : {}) });
        await invalidate(['user'], ['superuser']);
        alert('success', `Created organization ${name}`);
        setName('');
        setEmail('');
      }}
    >
      <FormGroup label="Organization Name" fieldId="org-name" isRequired>
        <TextInput id="org-name" value={name} onChange={(_e, v) => setName(v)} isRequired />
      </FormGroup>
      <FormGroup label="Email (Optional)" fieldId="org-email">
        <TextInput id="org-email" type="email" value={email} onChange={(_e, v) => setEmail(v)} />
      </FormGroup>
    </FormModal>
  );
}

function CreateUserModal({ isOpen, onClose }: { isOpen: boolean; onClose: () => void }) {
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [created, setCreated] = useState<{ username: string; password: string } | null>(null);
  const invalidate = useInvalidate();
  return (
    <>
      <FormModal
        title="Create User"
        isOpen={isOpen}
        onClose={onClose}
        submitLabel="Create user"
        submitDisabled={!username}
        onSubmit={async () => {
          setCreated(await api.post<{ username: string; password: string }>('/superuser/users/', { username, ...(email ? { email } : {}) }));
          setUsername('');
          setEmail('');
          await invalidate(['superuser']);
        }}
      >
        <FormGroup label="Username" fieldId="su-username" isRequired>
          <TextInput id="su-username" value={username} onChange={(_e, v) => setUsername(v)} />
        </FormGroup>
        <FormGroup label="Email" fieldId="su-email">
          <TextInput id="su-email" type="email" value={email} onChange={(_e, v) => setEmail(v)} />
        </FormGroup>
      </FormModal>
      {created && (
        <Modal isOpen variant="small" onClose={() => setCreated(null)} aria-labelledby="user-created-title">
          <ModalHeader title={`User ${created.username} created`} labelId="user-created-title" />
          <ModalBody>
            <p>Give the user this temporary password; it is shown only once.</p>
            <Copy label="Temporary password" value={created.password} />
          </ModalBody>
        </Modal>
      )}
    </>
  );
}

export default function OrganizationsList() {
  const me = useMe();
  const [filter, setFilter] = useState('');
  const [creating, setCreating] = useState<'org' | 'user' | null>(null);
  const [editing, setEditing] = useState<{ row: Row; field: 'email' | 'password' } | null>(null);
  const [value, setValue] = useState('');
  const invalidate = useInvalidate();
  const alert = useAlert();
  const su = useQuery({
    queryKey: ['superuser', 'namespaces'],
    enabled: !!me.super_user,
    queryFn: async () => {
      const [orgs, users] = await Promise.all([
        api.get<{ organizations: { name: string; email: string | null; avatar: AvatarData }[] }>('/superuser/organizations/'),
        api.get<{ users: { username: string; email: string | null; avatar: AvatarData; enabled: boolean; super_user: boolean }[] }>('/superuser/users/'),
      ]);
      return { orgs: orgs.organizations, users: users.users };
    },
  });
  const rows: Row[] = useMemo(() => {
    const mine = new Map(me.organizations.map((o) => [o.name, o]));
    const list: Row[] = su.data
      ? [
          ...su.data.orgs.map((o) => ({ name: o.name, kind: 'org' as const, avatar: o.avatar, email: o.email, role: mine.get(o.name) ? (mine.get(o.name)!.is_org_admin ? 'Admin' : 'Member') : '' })),
          ...su.data.users.map((u) => ({ name: u.username, kind: 'user' as const, avatar: u.avatar, email: u.email, enabled: u.enabled, superuser: u.super_user })),
        ]
      : me.organizations.map((o) => ({ name: o.name, kind: 'org' as const, avatar: o.avatar, role: o.is_org_admin ? 'Admin' : 'Member' }));
    return list.filter((r) => r.name.includes(filter)).sort((a, b) => a.name.localeCompare(b.name));
  }, [me, su.data, filter]);

  const act = async (label: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      alert('success', label);
    } catch (e) {
      alert('danger', e instanceof Error ? e.message : String(e));
    }
    await invalidate(['superuser'], ['user']);
  };
  const actions = (r: Row) =>
    r.kind === 'org'
      ? [{ title: 'Delete Organization', onClick: () => act(`Deleted organization ${r.name}`, () => api.del(me.super_user ? `/superuser/organizations/${enc(r.name)}` : `/organization/${enc(r.name)}`)) }]
      : [
          { title: 'Change E-mail', onClick: () => { setValue(r.email ?? ''); setEditing({ row: r, field: 'email' }); } },
          { title: 'Change Password', onClick: () => { setValue(''); setEditing({ row: r, field: 'password' }); } },
          { title: r.enabled ? 'Disable User' : 'Enable User', onClick: () => act(`${r.enabled ? 'Disabled' : 'Enabled'} ${r.name}`, () => api.put(`/superuser/users/${enc(r.name)}`, { enabled: !r.enabled })) },
          { title: 'Delete User', onClick: () => act(`Deleted user ${r.name}`, () => api.del(`/superuser/users/${enc(r.name)}`)) },
        ];

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Organizations</Title>
      </PageSection>
      <PageSection>
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <SearchInput placeholder="Filter by name" aria-label="Filter by name" value={filter} onChange={(_e, v) => setFilter(v)} onClear={() => setFilter('')} />
            </ToolbarItem>
            <ToolbarItem>
              <Button onClick={() => setCreating('org')}>Create Organization</Button>
            </ToolbarItem>
            {me.super_user && (
              <ToolbarItem>
                <Button variant="secondary" onClick={() => setCreating('user')}>
                  Create User
                </Button>
              </ToolbarItem>
            )}
          </ToolbarContent>
        </Toolbar>
        {rows.length === 0 ? (
          <Empty title="You are not a member of any organization" action={<Button onClick={() => setCreating('org')}>Create Organization</Button>}>
            Organizations group repositories, teams and robot accounts.
          </Empty>
        ) : (
          <Table aria-label="Organizations" variant="compact">
            <Thead>
              <Tr>
                <Th>Name</Th>
                {me.super_user && <Th>Type</Th>}
                {me.super_user && <Th>Email</Th>}
                <Th>Your role</Th>
                {me.super_user && <Th screenReaderText="Actions" />}
              </Tr>
            </Thead>
            <Tbody>
              {rows.map((r) => (
                <Tr key={`${r.kind}-${r.name}`} data-testid="table-entry">
                  <Td dataLabel="Name">
                    <Avatar avatar={r.avatar} />
                    <Link to={r.kind === 'org' ? `/organization/${r.name}` : `/user/${r.name}`}>{r.name}</Link>
                    {r.superuser && (
                      <Label isCompact color="purple" style={{ marginLeft: 8 }}>
                        superuser
                      </Label>
                    )}
                    {r.enabled === false && (
                      <Label isCompact color="red" style={{ marginLeft: 8 }}>
                        disabled
                      </Label>
                    )}
                  </Td>
                  {me.super_user && <Td dataLabel="Type">{r.kind === 'org' ? 'Organization' : 'User'}</Td>}
                  {me.super_user && <Td dataLabel="Email">{r.email ?? ''}</Td>}
                  <Td dataLabel="Your role">{r.kind === 'org' ? r.role : r.name === me.username ? 'You' : ''}</Td>
                  {me.super_user && (
                    <Td isActionCell>
                      <ActionsColumn items={actions(r)} />
                    </Td>
                  )}
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
      </PageSection>
      <CreateOrganizationModal isOpen={creating === 'org'} onClose={() => setCreating(null)} />
      {me.super_user && <CreateUserModal isOpen={creating === 'user'} onClose={() => setCreating(null)} />}
      {editing && (
        <FormModal
          title={editing.field === 'email' ? `Change e-mail of ${editing.row.name}` : `Change password of ${editing.row.name}`}
          isOpen
          onClose={() => setEditing(null)}
          submitLabel="Save"
          onSubmit={async () => {
            await api.put(`/superuser/users/${enc(editing.row.name)}`, { [editing.field]: value });
            setValue('');
            await invalidate(['superuser']);
            alert('success', `Changed ${editing.field} of ${editing.row.name}`);
          }}
        >
          <FormGroup label={editing.field === 'email' ? 'E-mail' : 'New password'} fieldId="su-edit">
            <TextInput id="su-edit" type={editing.field === 'email' ? 'email' : 'password'} value={value} onChange={(_e, v) => setValue(v)} />
          </FormGroup>
        </FormModal>
      )}
    </>
  );
}
