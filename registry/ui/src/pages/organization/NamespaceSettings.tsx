/**
 * Settings of an organization or of the signed-in user: General settings (email, time machine, password,
 * delete), CLI configuration (encrypted password, application tokens; users), Quota (usage bar, limits;
 * superusers change them), Proxy Cache (organizations, FEATURE_PROXY_CACHE).
 */
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import {
  ActionGroup,
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Flex,
  FlexItem,
  Label,
  Progress,
  ProgressMeasureLocation,
  ProgressVariant,
  Stack,
  StackItem,
  Tab,
  TabTitleText,
  Tabs,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { useInvalidate, useMe, useRegistryInfo, type QuotaReport } from '../../api/hooks';
import { bytes, dateTime, duration } from '../../api/format';
import { Copy, FormModal, TypeToConfirmModal } from '../../components/common';
import ListWithActions from '../../components/ListWithActions';
import { useRunAction } from '../../components/runAction';
import { errorMessage, useAlert } from '../../components/alerts';
import ProxyCache from './ProxyCache';
import type { Org } from './types';

type Limit = NonNullable<Org['quotas']>[number]['limits'][number];

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const parseDuration = (d: string) => {
  const m = /^(\d+)([smhdw])$/.exec(d);
  return m ? Number(m[1]) * UNIT_S[m[2]] : 0;
};

function General({ name, org }: { name: string; org: Org | null }) {
  const me = useMe();
  const { config } = useRegistryInfo();
  const invalidate = useInvalidate();
  const alert = useAlert();
  const navigate = useNavigate();
  const current = org ? org : { email: me.email, tag_expiration_s: me.tag_expiration_s ?? 0 };
  const [email, setEmail] = useState(current.email ?? '');
  const [expiration, setExpiration] = useState(String(current.tag_expiration_s));
  const [busy, setBusy] = useState(false);
  const [changingPassword, setChangingPassword] = useState(false);
  const [password, setPassword] = useState('');
  const [deleting, setDeleting] = useState(false);
  const options = ((config.TAG_EXPIRATION_OPTIONS as string[] | undefined) ?? ['0s', '1d', '1w', '2w', '4w']).map(parseDuration);
  if (!options.includes(current.tag_expiration_s)) options.push(current.tag_expiration_s);
  const path = org ? `/organization/${enc(name)}` : '/user/';
  const save = async () => {
    setBusy(true);
    try {
      const saved = await api.put<{ email?: string | null }>(path, { email: email || undefined, tag_expiration_s: Number(expiration) });
      await invalidate(org ? ['organization', name] : ['user']);
      // With e-mail on, a user's new address takes effect when the link mailed to it is followed.
      if (!org && email && saved?.email !== email) alert('info', `Settings saved. A confirmation link was mailed to ${email}; the address changes when it is followed.`);
      else alert('success', 'Settings saved');
    } catch (e) {
      alert('danger', errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack hasGutter>
      <StackItem>
        <Form
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
          style={{ maxWidth: '40rem' }}
        >
          <FormGroup label={org ? 'Organization' : 'Username'} fieldId="settings-name">
            <TextInput id="settings-name" value={name} isDisabled />
          </FormGroup>
          <FormGroup label="Email" fieldId="settings-email">
            <TextInput id="settings-email" type="email" value={email} onChange={(_e, v) => setEmail(v)} />
          </FormGroup>
          <FormGroup label="Time machine" fieldId="settings-expiration">
            <FormSelect id="settings-expiration" value={expiration} onChange={(_e, v) => setExpiration(v)}>
              {options
                .sort((a, b) => a - b)
                .map((s) => (
                  <FormSelectOption key={s} value={String(s)} label={duration(s)} />
                ))}
            </FormSelect>
          </FormGroup>
          <ActionGroup>
            <Button type="submit" isLoading={busy}>
              Save
            </Button>
          </ActionGroup>
        </Form>
      </StackItem>
      {!org && (
        <StackItem>
          <Title headingLevel="h3" size="md">
            Password
          </Title>
          <Button variant="secondary" onClick={() => setChangingPassword(true)} style={{ marginTop: 8 }}>
            Change password
          </Button>
        </StackItem>
      )}
      <StackItem>
        <Alert variant="danger" isInline title={org ? 'Delete organization' : 'Delete account'}>
          <p>Deleting {org ? 'an organization' : 'your account'} removes all of its repositories and cannot be undone.</p>
          <Button variant="danger" onClick={() => setDeleting(true)} style={{ marginTop: 8 }}>
            {org ? 'Delete organization' : 'Delete account'}
          </Button>
        </Alert>
      </StackItem>
      <FormModal
        title="Change password"
        isOpen={changingPassword}
        onClose={() => {
          setChangingPassword(false);
          setPassword('');
        }}
        submitLabel="Change password"
        submitDisabled={password.length < 8}
        onSubmit={async () => {
          await api.put('/user/', { password });
          setPassword('');
          alert('success', 'Password changed');
        }}
      >
        <FormGroup label="New password (at least 8 characters)" fieldId="new-password-settings">
          <TextInput id="new-password-settings" type="password" value={password} onChange={(_e, v) => setPassword(v)} autoComplete="new-password" />
        </FormGroup>
      </FormModal>
      <TypeToConfirmModal
        title={org ? 'Delete organization' : 'Delete account'}
        name={name}
        isOpen={deleting}
        onClose={() => setDeleting(false)}
        onConfirm={async () => {
          await api.del(path);
          await invalidate(['user']);
          navigate(org ? '/organization' : '/signin');
        }}
      />
    </Stack>
  );
}

interface AppToken {
  uuid: string;
  title: string;
  last_accessed: string | null;
  expiration: string | null;
  created: string;
  token_code?: string;
}

function CliConfiguration() {
  const me = useMe();
  const { host } = useRegistryInfo();
  const [title, setTitle] = useState('');
  const [shown, setShown] = useState<{ title: string; secret: string } | null>(null);
  const [encrypting, setEncrypting] = useState(false);
  const [password, setPassword] = useState('');
  const tokens = useQuery({ queryKey: ['apptokens'], queryFn: () => api.get<{ tokens: AppToken[] }>('/user/apptoken'), select: (d) => d.tokens });
  return (
    <Stack hasGutter>
      <StackItem>
        <Card>
          <CardTitle>Docker CLI password</CardTitle>
          <CardBody>
            <p>Generate an encrypted version of your password for the Docker and Podman command lines.</p>
            <Button variant="secondary" onClick={() => setEncrypting(true)} style={{ marginTop: 8 }}>
              Generate encrypted password
            </Button>
          </CardBody>
        </Card>
      </StackItem>
      <StackItem>
        <Card>
          <CardTitle>Docker CLI and other Application Tokens</CardTitle>
          <CardBody>
            <ListWithActions<AppToken>
              label="Application tokens"
              query={tokens}
              rowKey={(t) => t.uuid}
              columns={[
                { title: 'Title', cell: (t) => t.title },
                { title: 'Last Accessed', cell: (t) => dateTime(t.last_accessed) },
                { title: 'Expiration', cell: (t) => dateTime(t.expiration) },
                { title: 'Created', cell: (t) => dateTime(t.created) },
              ]}
              actions={() => [
                {
                  title: 'Revoke',
                  confirm: (t) => `Revoke the token ${t.title}? Logins with it stop working.`,
                  run: (t) => api.del(`/user/apptoken/${enc(t.uuid)}`),
                  done: (t) => `Revoked ${t.title}`,
                },
              ]}
              create={{
                label: 'Create application token',
                submitLabel: 'Create',
                submitDisabled: !title,
                onSubmit: async () => {
                  const r = await api.post<{ token: AppToken }>('/user/apptoken', { title });
                  setShown({ title: r.token.title, secret: r.token.token_code ?? '' });
                  return r.token;
                },
                done: (t) => `Created application token ${(t as AppToken).title}`,
                onClose: () => setTitle(''),
                fields: (
                  <FormGroup label="Title" fieldId="apptoken-title" isRequired>
                    <TextInput id="apptoken-title" value={title} onChange={(_e, v) => setTitle(v)} />
                  </FormGroup>
                ),
              }}
              empty={{ title: 'No application tokens', body: 'Application tokens log the Docker and Podman command lines in as you without your password.' }}
              invalidates={[['apptokens']]}
            />
          </CardBody>
        </Card>
      </StackItem>
      <FormModal
        title="Generate encrypted password"
        isOpen={encrypting}
        onClose={() => {
          setEncrypting(false);
          setPassword('');
        }}
        submitLabel="Generate"
        submitDisabled={!password}
        onSubmit={async () => {
          const r = await api.post<{ key: string }>('/user/clientkey', { password });
          setPassword('');
          setShown({ title: 'Encrypted password', secret: r.key });
        }}
      >
        <FormGroup label="Current password" fieldId="clientkey-password">
          <TextInput id="clientkey-password" type="password" value={password} onChange={(_e, v) => setPassword(v)} />
        </FormGroup>
      </FormModal>
      {shown && (
        <FormModal title={shown.title} isOpen onClose={() => setShown(null)} submitLabel="Done" onSubmit={async () => undefined} variant="medium">
          <p>This secret is shown once. Copy it now.</p>
          <FormGroup label="Secret" fieldId="shown-secret">
            <Copy label="Secret" value={shown.secret} testId="shown-secret" />
          </FormGroup>
          <FormGroup label="Podman Login" fieldId="shown-podman">
            <Copy label="Podman login" value={`podman login -u='${me.username}' -p='${shown.secret}' ${host}`} />
          </FormGroup>
          <FormGroup label="Docker Login" fieldId="shown-docker">
            <Copy label="Docker login" value={`docker login -u='${me.username}' -p='${shown.secret}' ${host}`} />
          </FormGroup>
        </FormModal>
      )}
    </Stack>
  );
}

/** Usage against the quota; past the Reject limit (or 100 %) the namespace takes no more pushes. */
export function QuotaBar({ report, limits = [] }: { report?: QuotaReport; limits?: { type: string; limit_percent: number }[] }) {
  if (!report?.configured_quota) return <span>No quota configured ({bytes(report?.quota_bytes ?? 0)} used)</span>;
  const percent = Math.round((report.quota_bytes / report.configured_quota) * 1000) / 10;
  const reject = Math.min(100, ...limits.filter((l) => l.type === 'Reject').map((l) => l.limit_percent));
  const warning = Math.min(...limits.filter((l) => l.type === 'Warning').map((l) => l.limit_percent));
  const state = percent >= reject ? 'exceeded' : percent >= warning ? 'warning' : 'ok';
  return (
    <Progress
      value={Math.min(100, percent)}
      title="Quota consumed"
      measureLocation={ProgressMeasureLocation.outside}
      label={`${bytes(report.quota_bytes)} of ${bytes(report.configured_quota)} (${percent}%)${state === 'exceeded' ? ' — Quota has been exceeded' : state === 'warning' ? ' — Warning: close to the quota' : ''}`}
      variant={state === 'exceeded' ? ProgressVariant.danger : state === 'warning' ? ProgressVariant.warning : undefined}
      aria-label="Quota consumed"
      data-testid="quota-bar"
    />
  );
}

type QuotaRow = NonNullable<Org['quotas']>[number];

/**
 * The quota of one namespace: its usage bar, and for superusers the limit and its Warning/Reject thresholds.
 * `base` is the quota resource (`/organization/{org}/quota` or a superuser's `/superuser/{users|organization}/{ns}/quota`).
 */
export function QuotaEditor({
  base,
  quota,
  report,
  canEdit,
  invalidates,
}: {
  base: string;
  quota: QuotaRow | undefined;
  report: QuotaReport | undefined;
  canEdit: boolean;
  invalidates: unknown[][];
}) {
  const [limit, setLimit] = useState(quota ? String(quota.limit_bytes / 1024 ** 3) : '');
  const [unit, setUnit] = useState('GiB');
  const [limitType, setLimitType] = useState('Warning');
  const [percent, setPercent] = useState('80');
  const run = useRunAction(invalidates);
  const units: Record<string, number> = { MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
  const limitBytes = Math.round(Number(limit) * units[unit]);
  return (
    <Stack hasGutter>
      <StackItem>
        <QuotaBar report={report} limits={quota?.limits} />
      </StackItem>
      {canEdit && (
        <StackItem>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              void run('Quota saved', () => (quota ? api.put(`${base}/${enc(quota.id)}`, { limit_bytes: limitBytes }) : api.post(base, { limit_bytes: limitBytes })));
            }}
            isHorizontal
            style={{ maxWidth: '40rem' }}
          >
            <FormGroup label="Storage quota" fieldId="quota-limit">
              <div style={{ display: 'flex', gap: 8 }}>
                <TextInput id="quota-limit" type="number" min={0} step="any" value={limit} onChange={(_e, v) => setLimit(v)} />
                <FormSelect value={unit} onChange={(_e, v) => setUnit(v)} aria-label="Unit" style={{ width: '8rem' }}>
                  {Object.keys(units).map((u) => (
                    <FormSelectOption key={u} value={u} label={u} />
                  ))}
                </FormSelect>
              </div>
            </FormGroup>
            <ActionGroup>
              <Button type="submit" isDisabled={!(limitBytes > 0)}>
                Apply
              </Button>
              {quota && (
                <Button variant="danger" onClick={() => run('Quota removed', () => api.del(`${base}/${enc(quota.id)}`))}>
                  Remove quota
                </Button>
              )}
            </ActionGroup>
          </Form>
        </StackItem>
      )}
      {quota && (
        <StackItem>
          <Title headingLevel="h3" size="md">
            Quota Policy
          </Title>
          <ListWithActions<Limit>
            label="Quota limits"
            query={{ data: quota.limits, isLoading: false, error: null }}
            rowKey={(l) => l.id}
            rowTestId="quota-limit"
            columns={[
              { title: 'Action', cell: (l) => <Label color={l.type === 'Reject' ? 'red' : 'orange'}>{l.type}</Label> },
              { title: 'Quota Threshold', cell: (l) => `${l.limit_percent}%` },
            ]}
            actions={
              canEdit
                ? () => [
                    {
                      title: 'Remove',
                      confirm: (l) => `Remove the ${l.type} limit at ${l.limit_percent}%?`,
                      run: (l) => api.del(`${base}/${enc(quota.id)}/limit/${enc(l.id)}`),
                      done: () => 'Limit removed',
                    },
                  ]
                : undefined
            }
            empty={{ title: 'No limits', body: 'Without a Reject limit, pushes are refused at 100 % of the quota.' }}
            invalidates={invalidates}
          />
          {canEdit && (
            <Form
              isHorizontal
              style={{ maxWidth: '40rem', marginTop: '1rem' }}
              onSubmit={(e) => {
                e.preventDefault();
                void run(`${limitType} limit added`, () => api.post(`${base}/${enc(quota.id)}/limit`, { type: limitType, threshold_percent: Number(percent) }));
              }}
            >
              <FormGroup label="Action" fieldId="limit-type">
                <FormSelect id="limit-type" value={limitType} onChange={(_e, v) => setLimitType(v)}>
                  <FormSelectOption value="Warning" label="Warning" />
                  <FormSelectOption value="Reject" label="Reject" />
                </FormSelect>
              </FormGroup>
              <FormGroup label="Quota Threshold (%)" fieldId="limit-percent">
                <TextInput id="limit-percent" type="number" min={1} max={100} value={percent} onChange={(_e, v) => setPercent(v)} />
              </FormGroup>
              <ActionGroup>
                <Button type="submit" variant="secondary">
                  Add Limit
                </Button>
              </ActionGroup>
            </Form>
          )}
        </StackItem>
      )}
    </Stack>
  );
}

function Quota({ name, org }: { name: string; org: Org | null }) {
  const me = useMe();
  const source = org ?? (me as unknown as Org);
  return (
    <QuotaEditor
      base={`/organization/${enc(name)}/quota`}
      quota={source.quotas?.[0]}
      report={source.quota_report}
      canEdit={!!me.super_user && !!org}
      invalidates={[org ? ['organization', name] : ['user']]}
    />
  );
}

export default function NamespaceSettings({ name, org }: { name: string; org: Org | null }) {
  const me = useMe();
  const { features } = useRegistryInfo();
  const [tab, setTab] = useState<string | number>('general');
  const source = org ?? (me as unknown as Org);
  const tabs = [
    { key: 'general', title: 'General settings', show: true },
    { key: 'cli', title: 'CLI configuration', show: !org },
    { key: 'quota', title: 'Quota', show: source.quotas !== undefined },
    { key: 'proxycache', title: 'Proxy Cache', show: !!org && !!features.PROXY_CACHE },
  ].filter((t) => t.show);
  return (
    <Flex flexWrap={{ default: 'nowrap' }} alignItems={{ default: 'alignItemsFlexStart' }}>
      <FlexItem>
        <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} isVertical aria-label="Settings">
          {tabs.map((t) => (
            <Tab key={t.key} eventKey={t.key} title={<TabTitleText>{t.title}</TabTitleText>} tabContentId={`settings-${t.key}`} />
          ))}
        </Tabs>
      </FlexItem>
      <FlexItem grow={{ default: 'grow' }} id={`settings-${tab}`} role="tabpanel">
        {tab === 'general' && <General name={name} org={org} />}
        {tab === 'cli' && <CliConfiguration />}
        {tab === 'quota' && <Quota name={name} org={org} />}
        {tab === 'proxycache' && <ProxyCache org={name} />}
      </FlexItem>
    </Flex>
  );
}
