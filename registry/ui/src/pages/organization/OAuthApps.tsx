/** OAuth Applications of an organization: create, view client id/secret, reset secret, delete. */
import { useState } from 'react';
import { Button, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm, FormGroup, Modal, ModalBody, ModalHeader, TextInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { useInvalidate } from '../../api/hooks';
import { Copy, Empty, ErrorState, FormModal, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';

interface Application {
  name: string;
  client_id: string;
  client_secret?: string;
  application_uri: string;
  redirect_uri: string;
  description: string;
}

function AppDetails({ base, app, onClose }: { base: string; app: Application; onClose: () => void }) {
  const q = useQuery({ queryKey: ['application', app.client_id], queryFn: () => api.get<Application>(`${base}/${enc(app.client_id)}`), gcTime: 0 });
  const invalidate = useInvalidate();
  const alert = useAlert();
  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="app-title">
      <ModalHeader title={app.name} labelId="app-title" />
      <ModalBody>
        {q.isLoading ? (
          <Loading />
        ) : q.error ? (
          <ErrorState error={q.error} />
        ) : (
          <DescriptionList>
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
                  onClick={async () => {
                    try {
                      await api.post(`${base}/${enc(app.client_id)}/resetclientsecret`);
                      await invalidate(['application', app.client_id]);
                      alert('success', 'Client secret reset');
                    } catch (e) {
                      alert('danger', errorMessage(e));
                    }
                  }}
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
        )}
      </ModalBody>
    </Modal>
  );
}

export default function OAuthApps({ org }: { org: string }) {
  const base = `/organization/${enc(org)}/applications`;
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [creating, setCreating] = useState(false);
  const [form, setForm] = useState({ name: '', application_uri: '', redirect_uri: '', description: '' });
  const [viewing, setViewing] = useState<Application | null>(null);
  const q = useQuery({ queryKey: ['applications', org], queryFn: () => api.get<{ applications: Application[] }>(base) });
  const field = (key: keyof typeof form, label: string, required = false) => (
    <FormGroup label={label} fieldId={`app-${key}`} isRequired={required}>
      <TextInput id={`app-${key}`} value={form[key]} onChange={(_e, v) => setForm({ ...form, [key]: v })} />
    </FormGroup>
  );
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <Button onClick={() => setCreating(true)}>Create new application</Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {q.isLoading ? (
        <Loading />
      ) : q.error ? (
        <ErrorState error={q.error} />
      ) : q.data!.applications.length === 0 ? (
        <Empty title="No OAuth applications">OAuth applications let other services act on this registry on behalf of users.</Empty>
      ) : (
        <Table aria-label="OAuth applications" variant="compact">
          <Thead>
            <Tr>
              <Th>Application Name</Th>
              <Th>Application URI</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {q.data!.applications.map((a) => (
              <Tr key={a.client_id} data-testid="table-entry">
                <Td dataLabel="Application Name">
                  <Button variant="link" isInline onClick={() => setViewing(a)}>
                    {a.name}
                  </Button>
                </Td>
                <Td dataLabel="Application URI">{a.application_uri}</Td>
                <Td isActionCell>
                  <Button
                    variant="link"
                    isDanger
                    onClick={async () => {
                      try {
                        await api.del(`${base}/${enc(a.client_id)}`);
                        alert('success', `Deleted ${a.name}`);
                      } catch (e) {
                        alert('danger', errorMessage(e));
                      }
                      await invalidate(['applications', org]);
                    }}
                  >
                    Delete
                  </Button>
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      <FormModal
        title="Create new application"
        isOpen={creating}
        onClose={() => setCreating(false)}
        submitLabel="Create application"
        submitDisabled={!form.name}
        onSubmit={async () => {
          await api.post(base, form);
          await invalidate(['applications', org]);
          alert('success', `Created application ${form.name}`);
          setForm({ name: '', application_uri: '', redirect_uri: '', description: '' });
        }}
      >
        {field('name', 'Application Name', true)}
        {field('application_uri', 'Homepage URL')}
        {field('redirect_uri', 'Redirect/Callback URL Prefix')}
        {field('description', 'Description')}
      </FormModal>
      {viewing && <AppDetails base={base} app={viewing} onClose={() => setViewing(null)} />}
    </>
  );
}
