/**
 * OAuth Applications of an organization: create, view client id/secret, reset secret, delete, and Quay's
 * "Generate Token": an access token for the signed-in user with the scopes chosen (never more than the
 * user holds; the server checks), shown once, listed and revocable afterwards.
 */
import { useState } from 'react';
import {
  Button,
  Checkbox,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Form,
  FormGroup,
  Modal,
  ModalBody,
  ModalHeader,
  Tab,
  TabTitleText,
  Tabs,
  TextInput,
} from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { useInvalidate } from '../../api/hooks';
import { dateTime } from '../../api/format';
import { Copy, ErrorState, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
import ListWithActions from '../../components/ListWithActions';
import { useRunAction } from '../../components/runAction';

interface Application {
  name: string;
  client_id: string;
  client_secret?: string;
  application_uri: string;
  redirect_uri: string;
  description: string;
}

interface AppToken {
  uuid: string;
  name: string;
  scope: string;
  created: string;
  expires_at: string | null;
  last_accessed: string | null;
}

export const SCOPES: { scope: string; description: string }[] = [
  { scope: 'repo:read', description: 'View all visible repositories' },
  { scope: 'repo:write', description: 'Read/Write to any accessible repositories' },
  { scope: 'repo:admin', description: 'Administer repositories' },
  { scope: 'repo:create', description: 'Create repositories' },
  { scope: 'user:read', description: 'Read user information' },
  { scope: 'user:admin', description: 'Administer user' },
  { scope: 'org:admin', description: 'Administer organization' },
  { scope: 'super:user', description: 'Super user access' },
];

function Credentials({ base, app }: { base: string; app: Application }) {
  const q = useQuery({ queryKey: ['application', app.client_id], queryFn: () => api.get<Application>(`${base}/${enc(app.client_id)}`), gcTime: 0 });
  const run = useRunAction([['application', app.client_id]]);
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} />;
  return (
    <DescriptionList style={{ marginTop: '1rem' }}>
      <DescriptionListGroup>
        <DescriptionListTerm>Client ID</DescriptionListTerm>
        <DescriptionListDescription>
          <Copy label="Client ID" value={q.data!.client_id} />
        </DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>Client Secret</DescriptionListTerm>
        <DescriptionListDescription>
          <Copy label="Client secret" value={q.data!.client_secret ?? ''} />
          <Button
            variant="warning"
            size="sm"
            style={{ marginTop: 8 }}
            onClick={() => run('Client secret reset', () => api.post(`${base}/${enc(app.client_id)}/resetclientsecret`))}
          >
            Reset Client Secret
          </Button>
        </DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>Redirect/Callback URL</DescriptionListTerm>
        <DescriptionListDescription>{q.data!.redirect_uri || '—'}</DescriptionListDescription>
      </DescriptionListGroup>
    </DescriptionList>
  );
}

function GenerateToken({ base, app }: { base: string; app: Application }) {
  const path = `${base}/${enc(app.client_id)}/tokens`;
  const key = ['application-tokens', app.client_id];
  const tokens = useQuery({ queryKey: key, queryFn: () => api.get<{ tokens: AppToken[] }>(path), select: (d) => d.tokens });
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The token is shown once, kept only while this tab is open.
  const [token, setToken] = useState<string | null>(null);
  const generate = async () => {
    setBusy(true);
    setError(null);
    const created = await api.post<{ token: string }>(path, { name, scope: scopes.join(' ') }).catch((e: unknown) => setError(errorMessage(e)));
    setBusy(false);
    if (!created) return;
    setToken(created.token);
    setName('');
    setScopes([]);
    alert('success', `Generated token for ${app.name}`);
    await invalidate(key);
  };
  return (
    <div style={{ marginTop: '1rem' }}>
      {token ? (
        <FormGroup label="Access Token" fieldId="generated-token">
          <p style={{ marginBottom: 8 }}>This token is shown once. Copy it now; use it as a Bearer token on the API.</p>
          <Copy label="Access token" value={token} testId="generated-token" />
          <Button variant="secondary" style={{ marginTop: 8 }} onClick={() => setToken(null)}>
            Done
          </Button>
        </FormGroup>
      ) : (
        <Form
          onSubmit={(e) => {
            e.preventDefault();
            void generate();
          }}
        >
          {error && <ErrorState error={error} title="Unable to generate the token" />}
          <FormGroup label="Token name" fieldId="token-name" isRequired>
            <TextInput id="token-name" value={name} onChange={(_e, v) => setName(v)} />
          </FormGroup>
          <FormGroup label="Scopes" fieldId="token-scopes" role="group" isStack>
            {SCOPES.map((s) => (
              <Checkbox
                key={s.scope}
                id={`scope-${s.scope.replace(':', '-')}`}
                label={s.scope}
                description={s.description}
                isChecked={scopes.includes(s.scope)}
                onChange={(_e, on) => setScopes(on ? [...scopes, s.scope] : scopes.filter((x) => x !== s.scope))}
              />
            ))}
          </FormGroup>
          <div>
            <Button type="submit" isLoading={busy} isDisabled={busy || !name || scopes.length === 0}>
              Generate Access Token
            </Button>
          </div>
        </Form>
      )}
      <div style={{ marginTop: '1.5rem' }}>
        <ListWithActions<AppToken>
          label="Access tokens"
          query={tokens}
          rowKey={(t) => t.uuid}
          rowTestId="token-entry"
          columns={[
            { title: 'Token name', cell: (t) => t.name },
            { title: 'Scopes', cell: (t) => t.scope },
            { title: 'Created', cell: (t) => dateTime(t.created) },
            { title: 'Expires', cell: (t) => dateTime(t.expires_at) },
            { title: 'Last Accessed', cell: (t) => dateTime(t.last_accessed) },
          ]}
          actions={() => [
            {
              title: 'Revoke token',
              confirm: (t) => `Revoke the token ${t.name}? Clients using it lose access at once.`,
              run: (t) => api.del(`${path}/${enc(t.uuid)}`),
              done: (t) => `Revoked ${t.name}`,
            },
          ]}
          empty={{ title: 'No access tokens', body: 'Tokens generated here act for you with the scopes chosen.' }}
          invalidates={[key]}
        />
      </div>
    </div>
  );
}

function AppDetails({ base, app, onClose }: { base: string; app: Application; onClose: () => void }) {
  const [tab, setTab] = useState<string | number>('settings');
  return (
    <Modal isOpen variant="large" onClose={onClose} aria-labelledby="app-title">
      <ModalHeader title={app.name} labelId="app-title" />
      <ModalBody>
        <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} aria-label="Application" mountOnEnter unmountOnExit>
          <Tab eventKey="settings" title={<TabTitleText>OAuth Information</TabTitleText>}>
            <Credentials base={base} app={app} />
          </Tab>
          <Tab eventKey="token" title={<TabTitleText>Generate Token</TabTitleText>}>
            <GenerateToken base={base} app={app} />
          </Tab>
        </Tabs>
      </ModalBody>
    </Modal>
  );
}

const NO_APP = { name: '', application_uri: '', redirect_uri: '', description: '' };

export default function OAuthApps({ org }: { org: string }) {
  const base = `/organization/${enc(org)}/applications`;
  const key = ['applications', org];
  const [form, setForm] = useState(NO_APP);
  const [viewing, setViewing] = useState<Application | null>(null);
  const q = useQuery({ queryKey: key, queryFn: () => api.get<{ applications: Application[] }>(base), select: (d) => d.applications });
  const field = (name: keyof typeof form, label: string, required = false) => (
    <FormGroup label={label} fieldId={`app-${name}`} isRequired={required}>
      <TextInput id={`app-${name}`} value={form[name]} onChange={(_e, v) => setForm({ ...form, [name]: v })} />
    </FormGroup>
  );
  return (
    <>
      <ListWithActions<Application>
        label="OAuth applications"
        query={q}
        rowKey={(a) => a.client_id}
        columns={[
          {
            title: 'Application Name',
            cell: (a) => (
              <Button variant="link" isInline onClick={() => setViewing(a)}>
                {a.name}
              </Button>
            ),
          },
          { title: 'Application URI', cell: (a) => a.application_uri },
        ]}
        actions={() => [
          { title: 'Manage application', open: setViewing },
          {
            title: 'Delete',
            confirm: (a) => `Delete the application ${a.name}? Every token it issued stops working.`,
            run: (a) => api.del(`${base}/${enc(a.client_id)}`),
            done: (a) => `Deleted ${a.name}`,
          },
        ]}
        create={{
          label: 'Create new application',
          submitLabel: 'Create application',
          submitDisabled: !form.name,
          onSubmit: () => api.post(base, form),
          done: `Created application ${form.name}`,
          onClose: () => setForm(NO_APP),
          fields: (
            <>
              {field('name', 'Application Name', true)}
              {field('application_uri', 'Homepage URL')}
              {field('redirect_uri', 'Redirect/Callback URL Prefix')}
              {field('description', 'Description')}
            </>
          ),
        }}
        empty={{ title: 'No OAuth applications', body: 'OAuth applications let other services act on this registry on behalf of users.' }}
        invalidates={[key]}
      />
      {viewing && <AppDetails base={base} app={viewing} onClose={() => setViewing(null)} />}
    </>
  );
}
