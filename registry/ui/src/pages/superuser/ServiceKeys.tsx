/**
 * Superuser Service Keys (`/service-keys`): the keys services sign with. Table Name, Service Name, Created,
 * Expires, Approval Status; row actions Set Friendly Name, Change Expiration Time, Approve (keys a service
 * submitted), Delete Key; "Create Preshareable Key" answers the private key once.
 */
import { useState } from 'react';
import { FormGroup, Label, PageSection, TextArea, TextInput, Title } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { useMe } from '../../api/hooks';
import { dateTime, toDate } from '../../api/format';
import { Copy, FormModal } from '../../components/common';
import ListWithActions from '../../components/ListWithActions';

interface ServiceKey {
  kid: string;
  name: string | null;
  service: string;
  created_date: string;
  expiration_date: string | null;
  approval: { approval_type: string; approver: { username: string } | null; notes: string } | null;
}

const KEYS = ['superuser', 'keys'];

/** A `datetime-local` value as a unix timestamp; empty means never. */
const toEpoch = (local: string) => (local ? Math.floor(new Date(local).getTime() / 1000) : null);

function approvalText(k: ServiceKey): string {
  if (!k.approval) return 'Awaiting Approval';
  if (k.approval.approval_type === 'Key Rotation') return 'Approved via key rotation';
  return k.approval.approver ? `Approved by ${k.approval.approver.username}` : 'Approved';
}

function Expires({ k }: { k: ServiceKey }) {
  const d = toDate(k.expiration_date);
  if (!d) return <>Never</>;
  const days = (d.getTime() - Date.now()) / 86_400_000;
  const color = days < 0 ? 'red' : days < 7 ? 'orange' : undefined;
  return color ? <Label color={color}>{days < 0 ? `Expired ${dateTime(k.expiration_date)}` : dateTime(k.expiration_date)}</Label> : <>{dateTime(k.expiration_date)}</>;
}

export default function ServiceKeys() {
  const me = useMe();
  const writable = !!me.super_user && !me.global_readonly_super_user;
  const q = useQuery({ queryKey: KEYS, queryFn: () => api.get<{ keys: ServiceKey[] }>('/superuser/keys'), select: (d) => d.keys });
  const [form, setForm] = useState({ name: '', service: '', expiration: '', notes: '' });
  const [created, setCreated] = useState<{ name: string; private_key: string } | null>(null);
  const [editing, setEditing] = useState<{ key: ServiceKey; field: 'name' | 'expiration' } | null>(null);
  const [value, setValue] = useState('');
  const field = (name: keyof typeof form, label: string, type = 'text', required = false) => (
    <FormGroup label={label} fieldId={`key-${name}`} isRequired={required}>
      {name === 'notes' ? (
        <TextArea id="key-notes" value={form.notes} onChange={(_e, v) => setForm({ ...form, notes: v })} />
      ) : (
        <TextInput id={`key-${name}`} type={type as 'text'} value={form[name]} onChange={(_e, v) => setForm({ ...form, [name]: v })} />
      )}
    </FormGroup>
  );
  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Service Keys</Title>
      </PageSection>
      <PageSection>
        <ListWithActions<ServiceKey>
          label="Service keys"
          query={q}
          rowKey={(k) => k.kid}
          filterText={(k) => `${k.name ?? ''} ${k.service} ${k.kid}`}
          columns={[
            { title: 'Name', cell: (k) => k.name || k.kid.slice(0, 12) },
            { title: 'Service Name', cell: (k) => k.service },
            { title: 'Created', cell: (k) => dateTime(k.created_date) },
            { title: 'Expires', cell: (k) => <Expires k={k} /> },
            { title: 'Approval Status', cell: (k) => approvalText(k) },
          ]}
          actions={
            writable
              ? (k) => [
                  {
                    title: 'Set Friendly Name',
                    open: () => {
                      setValue(k.name ?? '');
                      setEditing({ key: k, field: 'name' });
                    },
                  },
                  {
                    title: 'Change Expiration Time',
                    open: () => {
                      setValue('');
                      setEditing({ key: k, field: 'expiration' });
                    },
                  },
                  ...(k.approval
                    ? []
                    : [{ title: 'Approve Key', run: () => api.post(`/superuser/approvedkeys/${enc(k.kid)}`, { notes: '' }), done: () => `Approved ${k.name || k.kid}` }]),
                  {
                    title: 'Delete Key',
                    confirm: () => `Delete the key ${k.name || k.kid}? The service it belongs to can no longer sign with it.`,
                    run: () => api.del(`/superuser/keys/${enc(k.kid)}`),
                    done: () => `Deleted ${k.name || k.kid}`,
                  },
                ]
              : undefined
          }
          create={
            writable
              ? {
                  label: 'Create Preshareable Key',
                  submitLabel: 'Create Key',
                  submitDisabled: !form.service,
                  onSubmit: async () => {
                    const r = await api.post<{ name: string; private_key: string }>('/superuser/keys', {
                      service: form.service,
                      ...(form.name ? { name: form.name } : {}),
                      expiration: toEpoch(form.expiration),
                      ...(form.notes ? { notes: form.notes } : {}),
                    });
                    setCreated({ name: r.name || form.service, private_key: r.private_key });
                  },
                  done: `Created a key for ${form.service}`,
                  onClose: () => setForm({ name: '', service: '', expiration: '', notes: '' }),
                  fields: (
                    <>
                      {field('name', 'Key Name')}
                      {field('service', 'Service Name', 'text', true)}
                      {field('expiration', 'Expires (empty: never)', 'datetime-local')}
                      {field('notes', 'Approval Notes')}
                    </>
                  ),
                }
              : undefined
          }
          empty={{ title: 'No service keys', body: 'Services such as the build manager and Clair sign their requests with keys listed here.' }}
          invalidates={[KEYS]}
        />
      </PageSection>
      {created && (
        <FormModal title={`Private key of ${created.name}`} isOpen onClose={() => setCreated(null)} submitLabel="Done" onSubmit={async () => undefined} variant="medium">
          <p>This private key is shown once: give it to the service now. The registry keeps only the public half.</p>
          <Copy multiline label="Private key" value={created.private_key} testId="private-key" />
        </FormModal>
      )}
      {editing && (
        <FormModal
          title={editing.field === 'name' ? 'Set Friendly Name' : 'Change Expiration Time'}
          isOpen
          onClose={() => setEditing(null)}
          submitLabel="Save"
          onSubmit={async () => {
            await api.put(`/superuser/keys/${enc(editing.key.kid)}`, editing.field === 'name' ? { name: value } : { expiration: toEpoch(value) });
            await q.refetch();
          }}
        >
          <FormGroup label={editing.field === 'name' ? 'Friendly name' : 'Expires (empty: never)'} fieldId="key-edit">
            <TextInput id="key-edit" type={editing.field === 'name' ? 'text' : ('datetime-local' as 'text')} value={value} onChange={(_e, v) => setValue(v)} />
          </FormGroup>
        </FormModal>
      )}
    </>
  );
}
