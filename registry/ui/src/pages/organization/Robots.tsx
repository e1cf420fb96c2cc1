/**
 * Robot accounts: list with teams and repositories, create, delete, repository permissions, and the
 * credentials views (token, Kubernetes secret, Podman, Docker login, Docker configuration). The token is
 * fetched when the credentials open and dropped from the cache when they close.
 */
import { useState } from 'react';
import { Button, FormGroup, FormSelect, FormSelectOption, Modal, ModalBody, ModalHeader, Radio, Tab, TabTitleText, Tabs, TextInput, Title, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import { useInvalidate, useRegistryInfo } from '../../api/hooks';
import { dateTime } from '../../api/format';
import { Copy, Empty, ErrorState, FormModal, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
import RoleSelect from '../../components/RoleSelect';
import { robotBase } from './types';

interface Robot {
  name: string;
  description: string;
  created: string;
  last_accessed: string | null;
  teams?: { name: string }[];
  repositories?: string[];
  token?: string;
}

const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

export function dockerConfig(host: string, username: string, token: string): string {
  return JSON.stringify({ auths: { [host]: { auth: b64(`${username}:${token}`), email: '' } } }, null, 2);
}

export function kubernetesSecret(scope: string, username: string, token: string): string {
  const escaped = username.replace(/[^a-z0-9-]/g, '-');
  return [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${escaped}-pull-secret`,
    'data:',
    `  .dockerconfigjson: ${b64(JSON.stringify({ auths: { [scope]: { auth: b64(`${username}:${token}`), email: '' } } }))}`,
    'type: kubernetes.io/dockerconfigjson',
    '',
  ].join('\n');
}

function Credentials({ base, robot, onClose }: { base: string; robot: Robot; onClose: () => void }) {
  const { host } = useRegistryInfo();
  const short = robot.name.split('+')[1];
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [scope, setScope] = useState<'org' | 'registry'>('org');
  const q = useQuery({ queryKey: ['robot-token', robot.name], queryFn: () => api.get<Robot>(`${base}/${enc(short)}`), gcTime: 0 });
  const [tab, setTab] = useState<string | number>('robot');
  const token = q.data?.token ?? '';
  const ns = robot.name.split('+')[0];
  const escaped = robot.name.replace(/[^a-z0-9-]/g, '-');
  return (
    <Modal isOpen variant="large" onClose={onClose} aria-labelledby="robot-credentials-title">
      <ModalHeader title={`Credentials for ${robot.name}`} labelId="robot-credentials-title" />
      <ModalBody>
        {q.isLoading ? (
          <Loading />
        ) : q.error ? (
          <ErrorState error={q.error} />
        ) : (
          <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} aria-label="Credential formats">
            <Tab eventKey="robot" title={<TabTitleText>Robot Account</TabTitleText>}>
              <FormGroup label="Username" fieldId="robot-username" style={{ marginTop: '1rem' }}>
                <Copy label="Robot username" value={robot.name} testId="robot-username" />
              </FormGroup>
              <FormGroup label="Robot Token" fieldId="robot-token">
                <Copy label="Robot token" value={token} testId="robot-token" />
              </FormGroup>
              <p style={{ margin: '1rem 0' }}>Regenerating the token invalidates every login that uses the current one.</p>
              <Button
                variant="warning"
                onClick={async () => {
                  try {
                    await api.post(`${base}/${enc(short)}/regenerate`);
                    await invalidate(['robot-token', robot.name]);
                    alert('success', `Regenerated the token of ${robot.name}`);
                  } catch (e) {
                    alert('danger', errorMessage(e));
                  }
                }}
              >
                Regenerate token now
              </Button>
            </Tab>
            <Tab eventKey="kubernetes" title={<TabTitleText>Kubernetes</TabTitleText>}>
              <Title headingLevel="h3" size="md" style={{ marginTop: '1rem' }}>
                Step 1: Select the scope of the secret
              </Title>
              <Radio id="scope-org" name="secret-scope" label={`Organization (${host}/${ns})`} isChecked={scope === 'org'} onChange={() => setScope('org')} />
              <Radio id="scope-registry" name="secret-scope" label={`Registry (${host})`} isChecked={scope === 'registry'} onChange={() => setScope('registry')} />
              <Title headingLevel="h3" size="md" style={{ marginTop: '1rem' }}>
                Step 2: The secret ({escaped}-secret.yml)
              </Title>
              <Copy multiline label="Kubernetes secret" value={kubernetesSecret(scope === 'org' ? `${host}/${ns}` : host, robot.name, token)} testId="step-2-secret" />
              <Title headingLevel="h3" size="md" style={{ marginTop: '1rem' }}>
                Step 3: Submit the secret to the cluster
              </Title>
              <Copy label="kubectl command" value={`kubectl create -f ${escaped}-secret.yml --namespace=NAMESPACEHERE`} />
              <Title headingLevel="h3" size="md" style={{ marginTop: '1rem' }}>
                Step 4: Reference the secret in a pod
              </Title>
              <Copy multiline label="Pod with imagePullSecrets" value={`apiVersion: v1\nkind: Pod\nmetadata:\n  name: somepod\n  namespace: all\nspec:\n  containers:\n    - name: web\n      image: ${host}/${ns}/REPONAME\n  imagePullSecrets:\n    - name: ${escaped}-pull-secret\n`} />
            </Tab>
            <Tab eventKey="podman" title={<TabTitleText>Podman</TabTitleText>}>
              <div style={{ marginTop: '1rem' }}>
                <Copy label="Podman login command" value={`podman login -u='${robot.name}' -p='${token}' ${host}`} testId="podman-login" />
              </div>
            </Tab>
            <Tab eventKey="docker" title={<TabTitleText>Docker Login</TabTitleText>}>
              <div style={{ marginTop: '1rem' }}>
                <Copy label="Docker login command" value={`docker login -u='${robot.name}' -p='${token}' ${host}`} testId="docker-login" />
              </div>
            </Tab>
            <Tab eventKey="dockerconfig" title={<TabTitleText>Docker Configuration</TabTitleText>}>
              <p style={{ marginTop: '1rem' }}>Save as {escaped}-auth.json, then move it to ~/.docker/config.json.</p>
              <Copy multiline label="Docker configuration" value={dockerConfig(host, robot.name, token)} />
              <Copy label="Move command" value={`mv ${escaped}-auth.json ~/.docker/config.json`} />
            </Tab>
          </Tabs>
        )}
      </ModalBody>
    </Modal>
  );
}

function RepoPermissionModal({ namespace, robot, onClose }: { namespace: string; robot: Robot; onClose: () => void }) {
  const repos = useQuery({ queryKey: ['repositories', namespace, ''], queryFn: () => api.get<{ repositories: { name: string }[] }>(`/repository?namespace=${enc(namespace)}`) });
  const [repo, setRepo] = useState('');
  const [role, setRole] = useState('read');
  const invalidate = useInvalidate();
  const names = repos.data?.repositories.map((r) => r.name) ?? [];
  const chosen = repo || names[0] || '';
  return (
    <FormModal
      title={`Set repository permissions for ${robot.name}`}
      isOpen
      onClose={onClose}
      submitLabel="Save"
      submitDisabled={!chosen}
      onSubmit={async () => {
        await api.put(`${repoPath(namespace, chosen)}/permissions/user/${enc(robot.name)}`, { role });
        await invalidate(['robots', namespace], ['permissions', namespace, chosen]);
      }}
    >
      <FormGroup label="Repository" fieldId="robot-repo">
        <FormSelect id="robot-repo" value={chosen} onChange={(_e, v) => setRepo(v)}>
          {names.map((n) => (
            <FormSelectOption key={n} value={n} label={n} />
          ))}
        </FormSelect>
      </FormGroup>
      <FormGroup label="Permission" fieldId="robot-role">
        <RoleSelect id="robot-role" label="Permission" value={role} onChange={setRole} />
      </FormGroup>
    </FormModal>
  );
}

export default function Robots({ namespace, isUser }: { namespace: string; isUser: boolean }) {
  const base = robotBase(namespace, isUser);
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [viewing, setViewing] = useState<Robot | null>(null);
  const [perms, setPerms] = useState<Robot | null>(null);
  const q = useQuery({ queryKey: ['robots', namespace], queryFn: () => api.get<{ robots: Robot[] }>(`${base}?permissions=true&token=false`) });
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <Button onClick={() => setCreating(true)}>Create robot account</Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {q.isLoading ? (
        <Loading />
      ) : q.error ? (
        <ErrorState error={q.error} />
      ) : q.data!.robots.length === 0 ? (
        <Empty title="No robot accounts" action={<Button onClick={() => setCreating(true)}>Create robot account</Button>}>
          Robot accounts give automation (CI, Kubernetes) its own credentials with only the permissions it needs.
        </Empty>
      ) : (
        <Table aria-label="Robot accounts" variant="compact">
          <Thead>
            <Tr>
              <Th>Robot account name</Th>
              <Th>Teams</Th>
              <Th>Repositories</Th>
              <Th>Last accessed</Th>
              <Th>Created</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {q.data!.robots.map((r) => (
              <Tr key={r.name} data-testid="table-entry">
                <Td dataLabel="Robot account name">
                  <Button variant="link" isInline onClick={() => setViewing(r)}>
                    {r.name}
                  </Button>
                  {r.description && <div className="pf-v6-u-color-200">{r.description}</div>}
                </Td>
                <Td dataLabel="Teams">{(r.teams ?? []).map((t) => t.name).join(', ') || '—'}</Td>
                <Td dataLabel="Repositories">{(r.repositories ?? []).join(', ') || '—'}</Td>
                <Td dataLabel="Last accessed">{dateTime(r.last_accessed)}</Td>
                <Td dataLabel="Created">{dateTime(r.created)}</Td>
                <Td isActionCell>
                  <ActionsColumn
                    items={[
                      { title: 'View credentials', onClick: () => setViewing(r) },
                      { title: 'Set repository permissions', onClick: () => setPerms(r) },
                      {
                        title: 'Delete',
                        onClick: async () => {
                          try {
                            await api.del(`${base}/${enc(r.name.split('+')[1])}`);
                            alert('success', `Deleted ${r.name}`);
                          } catch (e) {
                            alert('danger', errorMessage(e));
                          }
                          await invalidate(['robots', namespace]);
                        },
                      },
                    ]}
                  />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      <FormModal
        title="Create robot account"
        isOpen={creating}
        onClose={() => setCreating(false)}
        submitLabel="Create robot account"
        submitDisabled={!/^[a-z][a-z0-9_]{1,254}$/.test(name)}
        onSubmit={async () => {
          await api.put(`${base}/${enc(name)}`, { description });
          await invalidate(['robots', namespace]);
          alert('success', `Created robot account ${namespace}+${name}`);
          setName('');
          setDescription('');
        }}
      >
        <FormGroup label="Robot name" fieldId="robot-name" isRequired>
          <TextInput id="robot-name" value={name} onChange={(_e, v) => setName(v)} />
        </FormGroup>
        <FormGroup label="Description" fieldId="robot-description">
          <TextInput id="robot-description" value={description} onChange={(_e, v) => setDescription(v)} />
        </FormGroup>
      </FormModal>
      {viewing && <Credentials base={base} robot={viewing} onClose={() => setViewing(null)} />}
      {perms && <RepoPermissionModal namespace={namespace} robot={perms} onClose={() => setPerms(null)} />}
    </>
  );
}
