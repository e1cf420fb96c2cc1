/**
 * Robot accounts: list with teams and repositories, create, delete, repository permissions, and the
 * credentials views (token, Kubernetes secret, Podman, Docker login, Docker configuration). The token is
 * fetched when the credentials open and dropped from the cache when they close.
 */
import { useState } from 'react';
import { Button, FormGroup, Modal, ModalBody, ModalHeader, Radio, Tab, TabTitleText, Tabs, Title, ToolbarItem } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { useRegistryInfo } from '../../api/hooks';
import { dateTime } from '../../api/format';
import { Copy, ErrorState, Loading } from '../../components/common';
import ListWithActions from '../../components/ListWithActions';
import { useRunAction } from '../../components/runAction';
import RepositoryPermissionsModal from '../../components/RepositoryPermissionsModal';
import CreateRobotWizard from './CreateRobotWizard';
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
  const run = useRunAction([['robot-token', robot.name]]);
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
              <Button variant="warning" onClick={() => run(`Regenerated the token of ${robot.name}`, () => api.post(`${base}/${enc(short)}/regenerate`))}>
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
              <Copy
                multiline
                label="Pod with imagePullSecrets"
                value={`apiVersion: v1\nkind: Pod\nmetadata:\n  name: somepod\n  namespace: all\nspec:\n  containers:\n    - name: web\n      image: ${host}/${ns}/REPONAME\n  imagePullSecrets:\n    - name: ${escaped}-pull-secret\n`}
              />
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

export default function Robots({ namespace, isUser }: { namespace: string; isUser: boolean }) {
  const base = robotBase(namespace, isUser);
  const key = ['robots', namespace];
  const [creating, setCreating] = useState(false);
  const [viewing, setViewing] = useState<Robot | null>(null);
  const [perms, setPerms] = useState<Robot | null>(null);
  const q = useQuery({ queryKey: key, queryFn: () => api.get<{ robots: Robot[] }>(`${base}?permissions=true&token=false`), select: (d) => d.robots });
  return (
    <>
      <ListWithActions<Robot>
        label="Robot accounts"
        query={q}
        rowKey={(r) => r.name}
        filterText={(r) => r.name}
        columns={[
          {
            title: 'Robot account name',
            cell: (r) => (
              <>
                <Button variant="link" isInline onClick={() => setViewing(r)}>
                  {r.name}
                </Button>
                {r.description && <div className="pf-v6-u-color-200">{r.description}</div>}
              </>
            ),
          },
          { title: 'Teams', cell: (r) => (r.teams ?? []).map((t) => t.name).join(', ') || '—' },
          { title: 'Repositories', cell: (r) => (r.repositories ?? []).join(', ') || '—' },
          { title: 'Last accessed', cell: (r) => dateTime(r.last_accessed) },
          { title: 'Created', cell: (r) => dateTime(r.created) },
        ]}
        actions={() => [
          { title: 'View credentials', open: setViewing },
          { title: 'Set repository permissions', open: setPerms },
          {
            title: 'Delete',
            confirm: (r) => `Delete the robot account ${r.name}? Logins with its token stop working.`,
            run: (r) => api.del(`${base}/${enc(r.name.split('+')[1])}`),
            done: (r) => `Deleted ${r.name}`,
          },
        ]}
        toolbar={
          <ToolbarItem>
            <Button onClick={() => setCreating(true)}>Create robot account</Button>
          </ToolbarItem>
        }
        empty={{ title: 'No robot accounts', body: 'Robot accounts give automation (CI, Kubernetes) its own credentials with only the permissions it needs.' }}
        invalidates={[key]}
      />
      {creating && <CreateRobotWizard namespace={namespace} isUser={isUser} onClose={() => setCreating(false)} />}
      {viewing && <Credentials base={base} robot={viewing} onClose={() => setViewing(null)} />}
      {perms && (
        <RepositoryPermissionsModal
          namespace={namespace}
          entity={{ kind: 'user', name: perms.name }}
          permissionsPath={`${base}/${enc(perms.name.split('+')[1])}/permissions`}
          onClose={() => setPerms(null)}
        />
      )}
    </>
  );
}
