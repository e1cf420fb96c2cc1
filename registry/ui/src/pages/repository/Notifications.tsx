/**
 * Repository Settings → Events and notifications: the repository's notifications (title, event, method,
 * status) with test / enable / delete, and "Create notification" (`POST …/notification/`). Events of
 * features that are off (builds, mirroring, scanning) are not offered.
 */
import { useState } from 'react';
import { Card, CardBody, CardTitle, FormGroup, FormSelect, FormSelectOption, Label, TextArea, TextInput } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import { useRegistryInfo } from '../../api/hooks';
import ListWithActions from '../../components/ListWithActions';
import EntityPicker, { type Entity } from '../../components/EntityPicker';
import { SEVERITIES } from './Security';
import type { Repository } from './types';

interface RepoNotification {
  uuid: string;
  title: string | null;
  event: string;
  method: string;
  config: Record<string, unknown>;
  event_config: Record<string, unknown>;
  number_of_failures: number;
}

/** Quay disables a notification after this many failed deliveries; "Enable" resets the count. */
const MAX_FAILURES = 3;

const EVENTS: { value: string; label: string; feature?: string }[] = [
  { value: 'repo_push', label: 'Push to Repository' },
  { value: 'vulnerability_found', label: 'Package Vulnerability Found', feature: 'SECURITY_SCANNER' },
  { value: 'build_failure', label: 'Image build failed', feature: 'BUILD_SUPPORT' },
  { value: 'build_queued', label: 'Image build queued', feature: 'BUILD_SUPPORT' },
  { value: 'build_start', label: 'Image build started', feature: 'BUILD_SUPPORT' },
  { value: 'build_success', label: 'Image build success', feature: 'BUILD_SUPPORT' },
  { value: 'build_cancelled', label: 'Image build cancelled', feature: 'BUILD_SUPPORT' },
  { value: 'repo_mirror_sync_started', label: 'Repository mirror started', feature: 'REPO_MIRROR' },
  { value: 'repo_mirror_sync_success', label: 'Repository mirror successful', feature: 'REPO_MIRROR' },
  { value: 'repo_mirror_sync_failed', label: 'Repository mirror unsuccessful', feature: 'REPO_MIRROR' },
  { value: 'repo_image_expiry', label: 'Image expiry trigger' },
];

const METHODS = (title: string): { value: string; label: string; feature?: string }[] => [
  { value: 'email', label: 'Email Notification', feature: 'MAILING' },
  { value: 'flowdock', label: 'Flowdock Team Notification' },
  { value: 'hipchat', label: 'HipChat Room Notification' },
  { value: 'quay_notification', label: `${title} Notification` },
  { value: 'slack', label: 'Slack Notification' },
  { value: 'webhook', label: 'Webhook POST' },
];

/** The text fields each method's config needs (quay_notification picks an entity instead). */
const METHOD_FIELDS: Record<string, { key: string; label: string; multiline?: boolean; optional?: boolean }[]> = {
  email: [{ key: 'email', label: 'E-mail address' }],
  flowdock: [{ key: 'flow_api_token', label: 'Flowdock API Token' }],
  hipchat: [
    { key: 'room_id', label: 'Room ID #' },
    { key: 'notification_token', label: 'Room Notification Token' },
  ],
  slack: [{ key: 'url', label: 'Webhook URL' }],
  webhook: [
    { key: 'url', label: 'Webhook URL' },
    { key: 'template', label: 'POST JSON body template (optional)', multiline: true, optional: true },
  ],
  quay_notification: [],
};

export default function Notifications({ repo }: { repo: Repository }) {
  const { features, title } = useRegistryInfo();
  const base = `${repoPath(repo.namespace, repo.name)}/notification`;
  const key = ['notifications', repo.namespace, repo.name];
  const q = useQuery({ queryKey: key, queryFn: () => api.get<{ notifications: RepoNotification[] }>(`${base}/`), select: (d) => d.notifications });
  const events = EVENTS.filter((e) => !e.feature || features[e.feature]);
  const methods = METHODS(title).filter((m) => !m.feature || features[m.feature]);
  const [event, setEvent] = useState('repo_push');
  const [method, setMethod] = useState('webhook');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [recipient, setRecipient] = useState<Entity | null>(null);
  const [level, setLevel] = useState('');
  const [days, setDays] = useState('7');
  const [name, setName] = useState('');
  const eventLabel = (v: string) => EVENTS.find((e) => e.value === v)?.label ?? v;
  const methodLabel = (v: string) => METHODS(title).find((m) => m.value === v)?.label ?? v;
  const missing = METHOD_FIELDS[method].some((f) => !f.optional && !fields[f.key]?.trim()) || (method === 'quay_notification' && !recipient);
  const reset = () => {
    setEvent('repo_push');
    setMethod('webhook');
    setFields({});
    setRecipient(null);
    setLevel('');
    setDays('7');
    setName('');
  };
  const create = () => {
    const config: Record<string, unknown> = {};
    for (const f of METHOD_FIELDS[method]) if (fields[f.key]?.trim()) config[f.key] = fields[f.key].trim();
    if (method === 'quay_notification') config.target = { kind: recipient!.kind, name: recipient!.name };
    const eventConfig: Record<string, unknown> = {};
    if (event === 'vulnerability_found' && level) eventConfig.level = level;
    if (event === 'repo_image_expiry') eventConfig.days = Number(days);
    return api.post(`${base}/`, { event, method, config, eventConfig, title: name || undefined });
  };
  return (
    <Card>
      <CardTitle component="h2">Events and notifications</CardTitle>
      <CardBody>
        <ListWithActions<RepoNotification>
          label="Notifications"
          query={q}
          rowKey={(n) => n.uuid}
          rowTestId="notification-entry"
          columns={[
            { title: 'Title', cell: (n) => n.title ?? '(Untitled)' },
            { title: 'Event', cell: (n) => eventLabel(n.event) },
            { title: 'Notification', cell: (n) => methodLabel(n.method) },
            {
              title: 'Status',
              cell: (n) => (n.number_of_failures >= MAX_FAILURES ? <Label color="red">Disabled due to 3 failed attempts in a row</Label> : <Label color="green">Enabled</Label>),
            },
          ]}
          actions={(n) => [
            {
              title: 'Test Notification',
              run: () => api.post(`${base}/${enc(n.uuid)}/test`),
              done: () => `Test notification of ${n.title ?? eventLabel(n.event)} queued`,
            },
            ...(n.number_of_failures > 0
              ? [{ title: 'Enable notification', run: () => api.post(`${base}/${enc(n.uuid)}`), done: () => `Enabled ${n.title ?? eventLabel(n.event)}` }]
              : []),
            {
              title: 'Delete Notification',
              confirm: () => `Delete the notification ${n.title ?? eventLabel(n.event)}?`,
              run: () => api.del(`${base}/${enc(n.uuid)}`),
              done: () => `Deleted notification ${n.title ?? eventLabel(n.event)}`,
            },
          ]}
          create={{
            label: 'Create notification',
            submitLabel: 'Submit',
            submitDisabled: missing,
            onSubmit: create,
            done: 'Created notification',
            onClose: reset,
            fields: (
              <>
                <FormGroup label="When this event occurs" fieldId="notification-event" isRequired>
                  <FormSelect id="notification-event" value={event} onChange={(_e, v) => setEvent(v)}>
                    {events.map((e) => (
                      <FormSelectOption key={e.value} value={e.value} label={e.label} />
                    ))}
                  </FormSelect>
                </FormGroup>
                {event === 'vulnerability_found' && (
                  <FormGroup label="Minimum severity" fieldId="notification-level">
                    <FormSelect id="notification-level" value={level} onChange={(_e, v) => setLevel(v)}>
                      <FormSelectOption value="" label="Any severity" />
                      {SEVERITIES.map((s) => (
                        <FormSelectOption key={s} value={s} label={s} />
                      ))}
                    </FormSelect>
                  </FormGroup>
                )}
                {event === 'repo_image_expiry' && (
                  <FormGroup label="When the image is due to expiry in days" fieldId="notification-days" isRequired>
                    <TextInput id="notification-days" type="number" min={1} max={365} value={days} onChange={(_e, v) => setDays(v)} />
                  </FormGroup>
                )}
                <FormGroup label="Then issue a notification" fieldId="notification-method" isRequired>
                  <FormSelect
                    id="notification-method"
                    value={method}
                    onChange={(_e, v) => {
                      setMethod(v);
                      setFields({});
                    }}
                  >
                    {methods.map((m) => (
                      <FormSelectOption key={m.value} value={m.value} label={m.label} />
                    ))}
                  </FormSelect>
                </FormGroup>
                {method === 'quay_notification' && (
                  <EntityPicker
                    namespace={repo.namespace}
                    value={recipient}
                    onChange={setRecipient}
                    includeTeams={repo.is_organization}
                    label="Recipient"
                    id="notification-recipient"
                  />
                )}
                {METHOD_FIELDS[method].map((f) => (
                  <FormGroup key={f.key} label={f.label} fieldId={`notification-${f.key}`} isRequired={!f.optional}>
                    {f.multiline ? (
                      <TextArea id={`notification-${f.key}`} value={fields[f.key] ?? ''} onChange={(_e, v) => setFields({ ...fields, [f.key]: v })} rows={4} />
                    ) : (
                      <TextInput id={`notification-${f.key}`} value={fields[f.key] ?? ''} onChange={(_e, v) => setFields({ ...fields, [f.key]: v })} />
                    )}
                  </FormGroup>
                ))}
                <FormGroup label="Title (optional)" fieldId="notification-title">
                  <TextInput id="notification-title" value={name} onChange={(_e, v) => setName(v)} />
                </FormGroup>
              </>
            ),
          }}
          empty={{ title: 'No notifications', body: 'Notifications tell people or services when something happens in this repository.' }}
          invalidates={[key]}
        />
      </CardBody>
    </Card>
  );
}
