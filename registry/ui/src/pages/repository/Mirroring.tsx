/**
 * Mirroring tab (FEATURE_REPO_MIRROR, repository admins): the pull-mirror configuration of a repository in
 * state MIRROR (`GET/POST/PUT …/mirror`), its status, "Sync Now" and "Cancel" (`…/mirror/sync-now`,
 * `…/mirror/sync-cancel`). A repository in another state gets a hint to change it in Settings.
 */
import { useEffect, useState, type FormEvent } from 'react';
import {
  ActionGroup,
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  Checkbox,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  ExpandableSection,
  Flex,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Stack,
  StackItem,
  TextInput,
} from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router-dom';
import { api, ApiError, enc, repoPath } from '../../api/client';
import { useInvalidate } from '../../api/hooks';
import { dateTime } from '../../api/format';
import { errorMessage, useAlert } from '../../components/alerts';
import { useRunAction } from '../../components/runAction';
import { Empty, ErrorState, Loading } from '../../components/common';
import type { Repository } from './types';

interface MirrorConfig {
  is_enabled: boolean;
  external_reference: string;
  external_registry_username: string | null;
  external_registry_config: { verify_tls: boolean; unsigned_images: boolean; proxy: { http_proxy?: string | null; https_proxy?: string | null; no_proxy?: string | null } };
  sync_interval: number;
  sync_start_date: string | null;
  sync_expiration_date: string | null;
  sync_retries_remaining: number;
  sync_status: string;
  root_rule: { rule_kind: string; rule_value: string[] };
  robot_username: string | null;
  skopeo_timeout_interval: number;
  architecture_filter: string[];
}

const ARCHITECTURES = ['amd64', 'arm64', 'ppc64le', 's390x'];
const UNITS = [
  { label: 'seconds', s: 1 },
  { label: 'minutes', s: 60 },
  { label: 'hours', s: 3600 },
  { label: 'days', s: 86400 },
  { label: 'weeks', s: 604800 },
];
const STATUS_TEXT: Record<string, string> = {
  NEVER_RUN: 'Never run',
  SYNC_NOW: 'Sync requested',
  SYNCING: 'Syncing',
  SUCCESS: 'Last sync succeeded',
  FAIL: 'Last sync failed',
  CANCEL: 'Cancelled',
};

/** `datetime-local` value (local time) ↔ the API's `YYYY-MM-DDTHH:MM:SSZ` (UTC). */
const toLocalInput = (iso: string | null) => {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const toApiDate = (local: string) => new Date(local).toISOString().replace(/\.\d{3}Z$/, 'Z');

function bestUnit(seconds: number) {
  return [...UNITS].reverse().find((u) => seconds % u.s === 0) ?? UNITS[0];
}

interface FormState {
  enabled: boolean;
  location: string;
  tags: string;
  start: string;
  interval: string;
  unit: number;
  timeout: string;
  robot: string;
  username: string;
  password: string;
  verifyTls: boolean;
  unsigned: boolean;
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
  architectures: string[];
}

function initial(c: MirrorConfig | null): FormState {
  const unit = bestUnit(c?.sync_interval ?? 86400);
  return {
    enabled: c?.is_enabled ?? true,
    location: c?.external_reference ?? '',
    tags: c?.root_rule.rule_value.join(', ') ?? '',
    start: toLocalInput(c?.sync_start_date ?? new Date().toISOString()),
    interval: String((c?.sync_interval ?? 86400) / unit.s),
    unit: unit.s,
    timeout: String(c?.skopeo_timeout_interval ?? 300),
    robot: c?.robot_username ?? '',
    username: c?.external_registry_username ?? '',
    password: '',
    verifyTls: c?.external_registry_config.verify_tls ?? true,
    unsigned: c?.external_registry_config.unsigned_images ?? false,
    httpProxy: c?.external_registry_config.proxy.http_proxy ?? '',
    httpsProxy: c?.external_registry_config.proxy.https_proxy ?? '',
    noProxy: c?.external_registry_config.proxy.no_proxy ?? '',
    architectures: c?.architecture_filter ?? [],
  };
}

function MirrorForm({ repo, config }: { repo: Repository; config: MirrorConfig | null }) {
  const base = `${repoPath(repo.namespace, repo.name)}/mirror`;
  const key = ['mirror', repo.namespace, repo.name];
  const invalidate = useInvalidate();
  const alert = useAlert();
  const run = useRunAction([key]);
  const [f, setF] = useState<FormState>(() => initial(config));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setF(initial(config)), [config]);
  const robots = useQuery({
    queryKey: ['robots', repo.namespace],
    queryFn: () => api.get<{ robots: { name: string }[] }>(repo.is_organization ? `/organization/${enc(repo.namespace)}/robots` : '/user/robots'),
    select: (d) => d.robots.map((r) => r.name),
  });
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setF((s) => ({ ...s, [k]: v }));
  const complete = f.location.trim() && f.tags.trim() && f.start && Number(f.interval) > 0 && f.robot;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = {
      is_enabled: f.enabled,
      external_reference: f.location.trim(),
      external_registry_username: f.username.trim() || null,
      external_registry_config: {
        verify_tls: f.verifyTls,
        unsigned_images: f.unsigned,
        proxy: { http_proxy: f.httpProxy.trim() || null, https_proxy: f.httpsProxy.trim() || null, no_proxy: f.noProxy.trim() || null },
      },
      sync_interval: Math.round(Number(f.interval) * f.unit),
      sync_start_date: toApiDate(f.start),
      robot_username: f.robot,
      skopeo_timeout_interval: Number(f.timeout),
      root_rule: {
        rule_kind: 'tag_glob_csv',
        rule_value: f.tags
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      },
      architecture_filter: f.architectures,
    };
    // The password is sent only when typed: the stored one is never shown, and kept otherwise.
    if (f.password) body.external_registry_password = f.password;
    try {
      if (config) await api.put(base, body);
      else await api.post(base, body);
      alert('success', config ? 'Mirror configuration updated' : 'Mirror configuration created');
      set('password', '');
      await invalidate(key, ['repository', repo.namespace, repo.name]);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack hasGutter style={{ paddingTop: '1rem' }}>
      {config && (
        <StackItem>
          <Card>
            <CardTitle component="h2">Status</CardTitle>
            <CardBody>
              <DescriptionList isHorizontal columnModifier={{ lg: '2Col' }}>
                <DescriptionListGroup>
                  <DescriptionListTerm>State</DescriptionListTerm>
                  <DescriptionListDescription data-testid="mirror-status">{STATUS_TEXT[config.sync_status] ?? config.sync_status}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Next sync</DescriptionListTerm>
                  <DescriptionListDescription>{dateTime(config.sync_start_date, 'Not scheduled')}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Sync timeout</DescriptionListTerm>
                  <DescriptionListDescription>{dateTime(config.sync_expiration_date, 'None')}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Retries remaining</DescriptionListTerm>
                  <DescriptionListDescription>{config.sync_retries_remaining}</DescriptionListDescription>
                </DescriptionListGroup>
              </DescriptionList>
              <Flex style={{ marginTop: '1rem' }}>
                <Button
                  variant="secondary"
                  isDisabled={config.sync_status === 'SYNCING' || config.sync_status === 'SYNC_NOW'}
                  onClick={() => void run('Sync requested', () => api.post(`${base}/sync-now`))}
                >
                  Sync Now
                </Button>
                <Button
                  variant="secondary"
                  isDisabled={config.sync_status !== 'SYNCING' && config.sync_status !== 'SYNC_NOW'}
                  onClick={() => void run('Sync cancelled', () => api.post(`${base}/sync-cancel`))}
                >
                  Cancel
                </Button>
              </Flex>
            </CardBody>
          </Card>
        </StackItem>
      )}
      <StackItem>
        <Card>
          <CardTitle component="h2">{config ? 'Configuration' : 'Set up mirroring'}</CardTitle>
          <CardBody>
            {error && <Alert variant="danger" isInline title={error} style={{ marginBottom: '1rem' }} data-testid="mirror-error" />}
            <Form onSubmit={submit} maxWidth="48rem">
              <Checkbox id="mirror-enabled" label="Enabled" isChecked={f.enabled} onChange={(_e, v) => set('enabled', v)} />
              <FormGroup label="Registry Location" fieldId="mirror-location" isRequired>
                <TextInput id="mirror-location" value={f.location} placeholder="quay.io/redhat/quay" onChange={(_e, v) => set('location', v)} />
              </FormGroup>
              <FormGroup label="Tags" fieldId="mirror-tags" isRequired>
                <TextInput id="mirror-tags" value={f.tags} placeholder="latest, v3*" onChange={(_e, v) => set('tags', v)} />
                <FormHelperText>
                  <HelperText>
                    <HelperTextItem>Comma-separated tag names or patterns (glob).</HelperTextItem>
                  </HelperText>
                </FormHelperText>
              </FormGroup>
              <FormGroup label="Start Date" fieldId="mirror-start" isRequired>
                <TextInput id="mirror-start" type="datetime-local" value={f.start} onChange={(_e, v) => set('start', v)} />
              </FormGroup>
              <FormGroup label="Sync Interval" fieldId="mirror-interval" isRequired>
                <Flex flexWrap={{ default: 'nowrap' }}>
                  <TextInput id="mirror-interval" type="number" min={1} value={f.interval} onChange={(_e, v) => set('interval', v)} style={{ maxWidth: '10rem' }} />
                  <FormSelect value={String(f.unit)} onChange={(_e, v) => set('unit', Number(v))} aria-label="Sync interval unit" style={{ maxWidth: '10rem' }}>
                    {UNITS.map((u) => (
                      <FormSelectOption key={u.s} value={String(u.s)} label={u.label} />
                    ))}
                  </FormSelect>
                </Flex>
              </FormGroup>
              <FormGroup label="Skopeo timeout interval (seconds)" fieldId="mirror-timeout">
                <TextInput id="mirror-timeout" type="number" min={300} value={f.timeout} onChange={(_e, v) => set('timeout', v)} />
              </FormGroup>
              <FormGroup label="Robot User" fieldId="mirror-robot" isRequired>
                <FormSelect id="mirror-robot" value={f.robot} onChange={(_e, v) => set('robot', v)}>
                  <FormSelectOption value="" label="Select a robot account" isPlaceholder />
                  {(robots.data ?? []).map((r) => (
                    <FormSelectOption key={r} value={r} label={r} />
                  ))}
                </FormSelect>
                {robots.data?.length === 0 && (
                  <FormHelperText>
                    <HelperText>
                      <HelperTextItem variant="warning">Create a robot account in {repo.namespace} first: it performs the mirror's pushes.</HelperTextItem>
                    </HelperText>
                  </FormHelperText>
                )}
              </FormGroup>
              <FormGroup label="Username" fieldId="mirror-username">
                <TextInput id="mirror-username" value={f.username} onChange={(_e, v) => set('username', v)} autoComplete="off" />
              </FormGroup>
              <FormGroup label="Password" fieldId="mirror-password">
                <TextInput
                  id="mirror-password"
                  type="password"
                  value={f.password}
                  placeholder={config?.external_registry_username ? 'Unchanged' : ''}
                  onChange={(_e, v) => set('password', v)}
                  autoComplete="new-password"
                />
              </FormGroup>
              <ExpandableSection toggleText="Advanced Settings">
                <Stack hasGutter>
                  <Checkbox id="mirror-verify-tls" label="Verify TLS" isChecked={f.verifyTls} onChange={(_e, v) => set('verifyTls', v)} />
                  <Checkbox id="mirror-unsigned" label="Accept Unsigned Images" isChecked={f.unsigned} onChange={(_e, v) => set('unsigned', v)} />
                  <FormGroup label="HTTP Proxy" fieldId="mirror-http-proxy">
                    <TextInput id="mirror-http-proxy" value={f.httpProxy} onChange={(_e, v) => set('httpProxy', v)} />
                  </FormGroup>
                  <FormGroup label="HTTPs Proxy" fieldId="mirror-https-proxy">
                    <TextInput id="mirror-https-proxy" value={f.httpsProxy} onChange={(_e, v) => set('httpsProxy', v)} />
                  </FormGroup>
                  <FormGroup label="No Proxy" fieldId="mirror-no-proxy">
                    <TextInput id="mirror-no-proxy" value={f.noProxy} onChange={(_e, v) => set('noProxy', v)} />
                  </FormGroup>
                  <FormGroup label="Architectures" fieldId="mirror-arch" role="group">
                    {ARCHITECTURES.map((a) => (
                      <Checkbox
                        key={a}
                        id={`mirror-arch-${a}`}
                        label={a}
                        isChecked={f.architectures.includes(a)}
                        onChange={(_e, on) => set('architectures', on ? [...f.architectures, a] : f.architectures.filter((x) => x !== a))}
                      />
                    ))}
                    <FormHelperText>
                      <HelperText>
                        <HelperTextItem>None checked: every architecture of a multi-arch image.</HelperTextItem>
                      </HelperText>
                    </FormHelperText>
                  </FormGroup>
                </Stack>
              </ExpandableSection>
              <ActionGroup>
                <Button type="submit" isLoading={busy} isDisabled={busy || !complete}>
                  {config ? 'Update Mirror' : 'Enable Mirror'}
                </Button>
              </ActionGroup>
            </Form>
          </CardBody>
        </Card>
      </StackItem>
    </Stack>
  );
}

export default function Mirroring({ repo }: { repo: Repository }) {
  const q = useQuery({
    queryKey: ['mirror', repo.namespace, repo.name],
    queryFn: async () => {
      try {
        return await api.get<MirrorConfig>(`${repoPath(repo.namespace, repo.name)}/mirror`);
      } catch (e) {
        // No configuration yet: the form creates one.
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }
    },
    enabled: repo.state === 'MIRROR',
    refetchInterval: (query) => (query.state.data?.sync_status === 'SYNCING' || query.state.data?.sync_status === 'SYNC_NOW' ? 5000 : false),
  });
  if (repo.state !== 'MIRROR') {
    return (
      <Empty title="This repository is not a mirror">
        Its state is {repo.state === 'READ_ONLY' ? 'Read Only' : 'Normal'}. To mirror an external repository into it, set its state to Mirror in{' '}
        <Link to={`/repository/${repo.namespace}/${repo.name}?tab=settings`}>Settings</Link> (Repository state).
      </Empty>
    );
  }
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} />;
  return <MirrorForm repo={repo} config={q.data ?? null} />;
}
