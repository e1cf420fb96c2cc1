/**
 * Organizations list: the user's organizations with their counts from GET /api/v1/user/organizations (one
 * request, no per-row calls), create organization; superusers get the registry's users and organizations
 * (with the same counts) in one table with their management actions, and the registry's size.
 */
import { useState, type ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { Button, Flex, FlexItem, FormGroup, Label, Modal, ModalBody, ModalHeader, PageSection, TextInput, Title, ToolbarItem } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../api/client';
import { useInvalidate, useMe, useRegistryInfo, type Avatar as AvatarData, type QuotaReport } from '../api/hooks';
import Recaptcha from '../components/Recaptcha';
import Avatar from '../components/Avatar';
import { Copy, FormModal } from '../components/common';
import ListWithActions from '../components/ListWithActions';
import { useRunAction } from '../components/runAction';
import { bytes, dateTime } from '../api/format';
import { useAlert } from '../components/alerts';
import { QuotaEditor } from './organization/NamespaceSettings';
import type { Org } from './organization/types';

interface Counts {
  repo_count?: number;
  team_count?: number;
  member_count?: number | null;
  robot_count?: number | null;
  last_modified?: number | null;
}

interface Row extends Counts {
  name: string;
  kind: 'org' | 'user';
  avatar?: AvatarData;
  email?: string | null;
  role?: string;
  enabled?: boolean;
  superuser?: boolean;
  quota_report?: QuotaReport;
  quotas?: Org['quotas'];
}

type Edit = 'email' | 'password' | 'name';
const EDIT_TEXT: Record<Edit, { title: string; label: string; done: string }> = {
  email: { title: 'Change e-mail of', label: 'E-mail', done: 'Changed e-mail of' },
  password: { title: 'Change password of', label: 'New password', done: 'Changed password of' },
  name: { title: 'Rename Organization', label: 'New organization name', done: 'Renamed organization' },
};

const rowKey = (r: Pick<Row, 'kind' | 'name'>) => `${r.kind}-${r.name}`;

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

/** Superusers: the registry's size (one aggregate on the server), with Calculate to refresh it. */
function RegistrySize() {
  const q = useQuery({ queryKey: ['superuser', 'registrysize'], queryFn: () => api.get<{ size_bytes: number; last_ran: number | null }>('/superuser/registrysize/') });
  const run = useRunAction([['superuser', 'registrysize']]);
  return (
    <Flex alignItems={{ default: 'alignItemsCenter' }} data-testid="registry-size">
      <FlexItem>
        <strong>Total Registry Size:</strong> {q.data ? bytes(q.data.size_bytes) : '…'}
      </FlexItem>
      <FlexItem>
        <strong>Updated:</strong> {q.data ? dateTime(q.data.last_ran === null ? null : q.data.last_ran / 1000) : '…'}
      </FlexItem>
      <FlexItem>
        <Button variant="secondary" size="sm" onClick={() => run('Registry size calculated', () => api.post('/superuser/registrysize/'))}>
          Calculate
        </Button>
      </FlexItem>
    </Flex>
  );
}

const count = (n: number | null | undefined) => (n === null || n === undefined ? '—' : n);

export default function OrganizationsList() {
  const me = useMe();
  const [orgName, setOrgName] = useState('');
  const [orgEmail, setOrgEmail] = useState('');
  const [creatingUser, setCreatingUser] = useState(false);
  const [editing, setEditing] = useState<{ row: Row; field: Edit } | null>(null);
  const [quotaOf, setQuotaOf] = useState<string | null>(null);
  const { features, config } = useRegistryInfo();
  // FEATURE_RECAPTCHA: creating an organization needs an answer too (users in RECAPTCHA_WHITELISTED_USERS are not checked).
  const siteKey = features.RECAPTCHA ? (config.RECAPTCHA_SITE_KEY as string | undefined) : undefined;
  const [captcha, setCaptcha] = useState('');
  const [captchaRound, setCaptchaRound] = useState(0);
  const newCaptcha = () => {
    setCaptcha('');
    setCaptchaRound((n) => n + 1);
  };
  const quotaEditable = !!features.QUOTA_MANAGEMENT && !!features.EDIT_QUOTA;
  const [value, setValue] = useState('');
  const invalidate = useInvalidate();
  const alert = useAlert();
  // One request for the user's organizations with their counts; superusers get every user and organization.
  const mine = useQuery({
    queryKey: ['user', 'organizations'],
    enabled: !me.super_user,
    queryFn: () => api.get<{ organizations: ({ name: string; avatar: AvatarData; is_org_admin: boolean } & Counts)[] }>('/user/organizations'),
    select: (d): Row[] => d.organizations.map((o) => ({ ...o, kind: 'org', role: o.is_org_admin ? 'Admin' : 'Member' })),
  });
  const su = useQuery({
    queryKey: ['superuser', 'namespaces'],
    enabled: !!me.super_user,
    queryFn: async (): Promise<Row[]> => {
      const [orgs, users] = await Promise.all([
        api.get<{ organizations: ({ name: string; email: string | null; avatar: AvatarData } & Counts)[] }>('/superuser/organizations/'),
        api.get<{
          users: { username: string; email: string | null; avatar: AvatarData; enabled: boolean; super_user: boolean; quota_report?: QuotaReport; quotas?: Org['quotas'] }[];
        }>('/superuser/users/'),
      ]);
      const roles = new Map(me.organizations.map((o) => [o.name, o.is_org_admin ? 'Admin' : 'Member']));
      return [
        ...orgs.organizations.map((o) => ({ ...o, kind: 'org' as const, role: roles.get(o.name) ?? '' })),
        ...users.users.map((u) => ({ ...u, name: u.username, kind: 'user' as const, superuser: u.super_user })),
      ].sort((a, b) => a.name.localeCompare(b.name));
    },
  });
  const rows = me.super_user ? su : mine;
  const edit = (row: Row, field: Edit) => {
    setValue(field === 'email' ? (row.email ?? '') : field === 'name' ? row.name : '');
    setEditing({ row, field });
  };
  const takeOwnership = (r: Row) => ({
    title: 'Take Ownership',
    confirm: () =>
      r.kind === 'user'
        ? `Take ownership of ${r.name}? The user account becomes an organization that you administer, and ${r.name} can no longer sign in.`
        : `Take ownership of ${r.name}? You become an administrator of the organization.`,
    run: () => api.post(`/superuser/takeownership/${enc(r.name)}`),
    done: () => `Took ownership of ${r.name}`,
  });
  const configureQuota = (r: Row) => (quotaEditable ? [{ title: 'Configure Quota', open: () => setQuotaOf(rowKey(r)) }] : []);
  const actions = (r: Row) =>
    r.kind === 'org'
      ? [
          { title: 'Rename Organization', open: () => edit(r, 'name') },
          takeOwnership(r),
          ...configureQuota(r),
          {
            title: 'Delete Organization',
            confirm: () => `Delete the organization ${r.name} with all of its repositories?`,
            run: () => api.del(`/superuser/organizations/${enc(r.name)}`),
            done: () => `Deleted organization ${r.name}`,
          },
        ]
      : [
          { title: 'Change E-mail', open: () => edit(r, 'email') },
          { title: 'Change Password', open: () => edit(r, 'password') },
          {
            title: r.enabled ? 'Disable User' : 'Enable User',
            run: () => api.put(`/superuser/users/${enc(r.name)}`, { enabled: !r.enabled }),
            done: () => `${r.enabled ? 'Disabled' : 'Enabled'} ${r.name}`,
          },
          // Quay refuses to take over a superuser's account.
          ...(r.superuser ? [] : [takeOwnership(r)]),
          ...configureQuota(r),
          {
            title: 'Delete User',
            confirm: () => `Delete the user ${r.name} with all of its repositories?`,
            run: () => api.del(`/superuser/users/${enc(r.name)}`),
            done: () => `Deleted user ${r.name}`,
          },
        ];
  const quotaRow = quotaOf ? su.data?.find((r) => rowKey(r) === quotaOf) : undefined;
  const orgCounts = (r: Row, cell: (r: Row) => ReactNode) => (r.kind === 'org' ? cell(r) : '');

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Organizations</Title>
        {me.super_user && (
          <div style={{ marginTop: '1rem' }}>
            <RegistrySize />
          </div>
        )}
      </PageSection>
      <PageSection>
        <ListWithActions<Row>
          label="Organizations"
          query={rows}
          rowKey={rowKey}
          filterText={(r) => r.name}
          columns={[
            {
              title: 'Name',
              cell: (r) => (
                <>
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
                </>
              ),
            },
            ...(me.super_user
              ? [
                  { title: 'Type', cell: (r: Row) => (r.kind === 'org' ? 'Organization' : 'User') },
                  { title: 'Admin Email', cell: (r: Row) => r.email ?? '' },
                ]
              : []),
            { title: 'Repo Count', cell: (r) => orgCounts(r, (o) => count(o.repo_count)) },
            { title: 'Teams', cell: (r) => orgCounts(r, (o) => count(o.team_count)) },
            { title: 'Members', cell: (r) => orgCounts(r, (o) => count(o.member_count)) },
            { title: 'Robots', cell: (r) => orgCounts(r, (o) => count(o.robot_count)) },
            { title: 'Last Modified', cell: (r) => orgCounts(r, (o) => dateTime(o.last_modified, '—')) },
            ...(quotaEditable ? [{ title: 'Size', cell: (r: Row) => (r.quota_report ? bytes(r.quota_report.quota_bytes) : '—') }] : []),
            { title: 'Your role', cell: (r) => (r.kind === 'org' ? r.role : r.name === me.username ? 'You' : '') },
          ]}
          actions={me.super_user ? actions : undefined}
          create={{
            label: 'Create Organization',
            submitLabel: 'Create',
            submitDisabled: !/^[a-z0-9][a-z0-9_-]{1,254}$/.test(orgName) || (!!siteKey && !captcha),
            onSubmit: async () => {
              try {
                return await api.post('/organization/', { name: orgName, ...(orgEmail ? { email: orgEmail } : {}), ...(siteKey ? { recaptcha_response: captcha } : {}) });
              } catch (e) {
                // An answer is good for one request.
                if (siteKey) newCaptcha();
                throw e;
              }
            },
            done: `Created organization ${orgName}`,
            onClose: () => {
              setOrgName('');
              setOrgEmail('');
              setCaptcha('');
            },
            fields: (
              <>
                <FormGroup label="Organization Name" fieldId="org-name" isRequired>
                  <TextInput id="org-name" value={orgName} onChange={(_e, v) => setOrgName(v)} isRequired />
                </FormGroup>
                <FormGroup label="Email (Optional)" fieldId="org-email">
                  <TextInput id="org-email" type="email" value={orgEmail} onChange={(_e, v) => setOrgEmail(v)} />
                </FormGroup>
                {siteKey && <Recaptcha key={captchaRound} siteKey={siteKey} onChange={setCaptcha} />}
              </>
            ),
          }}
          toolbar={
            me.super_user && (
              <ToolbarItem>
                <Button variant="secondary" onClick={() => setCreatingUser(true)}>
                  Create User
                </Button>
              </ToolbarItem>
            )
          }
          empty={{ title: 'You are not a member of any organization', body: 'Organizations group repositories, teams and robot accounts.' }}
          invalidates={[['user'], ['superuser']]}
        />
      </PageSection>
      {me.super_user && <CreateUserModal isOpen={creatingUser} onClose={() => setCreatingUser(false)} />}
      {editing && (
        <FormModal
          title={editing.field === 'name' ? EDIT_TEXT.name.title : `${EDIT_TEXT[editing.field].title} ${editing.row.name}`}
          isOpen
          onClose={() => setEditing(null)}
          submitLabel="Save"
          submitDisabled={!value || (editing.field === 'name' && value === editing.row.name)}
          onSubmit={async () => {
            const { row, field } = editing;
            if (field === 'name') await api.put(`/superuser/organizations/${enc(row.name)}`, { name: value });
            else await api.put(`/superuser/users/${enc(row.name)}`, { [field]: value });
            setValue('');
            await invalidate(['superuser'], ['user']);
            alert('success', field === 'name' ? `${EDIT_TEXT.name.done} ${row.name} to ${value}` : `${EDIT_TEXT[field].done} ${row.name}`);
          }}
        >
          <FormGroup label={EDIT_TEXT[editing.field].label} fieldId="su-edit">
            <TextInput
              id="su-edit"
              type={editing.field === 'email' ? 'email' : editing.field === 'password' ? 'password' : 'text'}
              value={value}
              onChange={(_e, v) => setValue(v)}
            />
          </FormGroup>
        </FormModal>
      )}
      {quotaRow && (
        <Modal isOpen variant="medium" onClose={() => setQuotaOf(null)} aria-labelledby="su-quota-title">
          <ModalHeader title={`Configure Quota for ${quotaRow.name}`} labelId="su-quota-title" />
          <ModalBody>
            <QuotaEditor
              base={`/superuser/${quotaRow.kind === 'org' ? 'organization' : 'users'}/${enc(quotaRow.name)}/quota`}
              quota={quotaRow.quotas?.[0]}
              report={quotaRow.quota_report}
              canEdit
              invalidates={[['superuser']]}
            />
          </ModalBody>
        </Modal>
      )}
    </>
  );
}
