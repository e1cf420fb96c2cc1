/** Repository settings: user/robot/team permissions, visibility, deletion. */
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import {
  Button,
  Card,
  CardBody,
  CardTitle,
  Content,
  FormGroup,
  Stack,
  StackItem,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import { useInvalidate } from '../../api/hooks';
import { ErrorState, FormModal, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
import EntityPicker, { type Entity } from '../../components/EntityPicker';
import RoleSelect from '../../components/RoleSelect';
import Avatar from '../../components/Avatar';
import type { Avatar as AvatarData } from '../../api/hooks';
import type { Repository } from './types';

interface Permission {
  name: string;
  role: string;
  is_robot?: boolean;
  avatar?: AvatarData;
}

function Permissions({ repo }: { repo: Repository }) {
  const base = repoPath(repo.namespace, repo.name);
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [adding, setAdding] = useState(false);
  const [entity, setEntity] = useState<Entity | null>(null);
  const [role, setRole] = useState('read');
  const q = useQuery({
    queryKey: ['permissions', repo.namespace, repo.name],
    queryFn: async () => {
      const [users, teams] = await Promise.all([
        api.get<{ permissions: Record<string, Permission> }>(`${base}/permissions/user/`),
        repo.is_organization ? api.get<{ permissions: Record<string, Permission> }>(`${base}/permissions/team/`) : Promise.resolve({ permissions: {} as Record<string, Permission> }),
      ]);
      return [
        ...Object.values(users.permissions).map((p) => ({ ...p, type: p.is_robot ? 'robot' : 'user' })),
        ...Object.values(teams.permissions).map((p) => ({ ...p, type: 'team' })),
      ];
    },
  });
  const path = (type: string, name: string) => `${base}/permissions/${type === 'team' ? 'team' : 'user'}/${enc(name)}`;
  const change = async (type: string, name: string, newRole: string) => {
    try {
      await api.put(path(type, name), { role: newRole });
      alert('success', `Changed ${name} to ${newRole}`);
    } catch (e) {
      alert('danger', errorMessage(e));
    }
    await invalidate(['permissions', repo.namespace, repo.name]);
  };
  const remove = async (type: string, name: string) => {
    try {
      await api.del(path(type, name));
      alert('success', `Removed permission of ${name}`);
    } catch (e) {
      alert('danger', errorMessage(e));
    }
    await invalidate(['permissions', repo.namespace, repo.name]);
  };
  return (
    <Card>
      <CardTitle>User and robot permissions</CardTitle>
      <CardBody>
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <Button onClick={() => setAdding(true)}>Add permissions</Button>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        {q.isLoading ? (
          <Loading />
        ) : q.error ? (
          <ErrorState error={q.error} />
        ) : (
          <Table aria-label="Repository permissions" variant="compact">
            <Thead>
              <Tr>
                <Th>Account</Th>
                <Th>Type</Th>
                <Th>Permissions</Th>
                <Th screenReaderText="Actions" />
              </Tr>
            </Thead>
            <Tbody>
              {q.data!.map((p) => (
                <Tr key={`${p.type}-${p.name}`} data-testid="permission-entry">
                  <Td dataLabel="Account">
                    <Avatar avatar={p.avatar} />
                    {p.name}
                  </Td>
                  <Td dataLabel="Type">{p.type}</Td>
                  <Td dataLabel="Permissions">
                    <RoleSelect id={`role-${p.type}-${p.name}`} label={`Permission of ${p.name}`} value={p.role} onChange={(r) => change(p.type, p.name, r)} />
                  </Td>
                  <Td isActionCell>
                    <Button variant="link" isDanger onClick={() => remove(p.type, p.name)} aria-label={`Delete permission of ${p.name}`}>
                      Delete
                    </Button>
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
        <FormModal
          title="Add permissions"
          isOpen={adding}
          onClose={() => { setAdding(false); setEntity(null); }}
          submitLabel="Add permission"
          submitDisabled={!entity}
          onSubmit={async () => {
            await api.put(path(entity!.kind, entity!.name), { role });
            await invalidate(['permissions', repo.namespace, repo.name]);
          }}
        >
          <EntityPicker namespace={repo.namespace} value={entity} onChange={setEntity} includeTeams={repo.is_organization} />
          <FormGroup label="Permission" fieldId="new-permission-role">
            <RoleSelect id="new-permission-role" label="Permission" value={role} onChange={setRole} />
          </FormGroup>
        </FormModal>
      </CardBody>
    </Card>
  );
}

export default function RepoSettings({ repo }: { repo: Repository }) {
  const base = repoPath(repo.namespace, repo.name);
  const invalidate = useInvalidate();
  const alert = useAlert();
  const navigate = useNavigate();
  const [deleting, setDeleting] = useState(false);
  const [confirm, setConfirm] = useState('');
  const full = `${repo.namespace}/${repo.name}`;
  const toggleVisibility = async () => {
    const visibility = repo.is_public ? 'private' : 'public';
    try {
      await api.post(`${base}/changevisibility`, { visibility });
      alert('success', `${full} is now ${visibility}`);
      await invalidate(['repository', repo.namespace, repo.name], ['repositories']);
    } catch (e) {
      alert('danger', errorMessage(e));
    }
  };
  return (
    <Stack hasGutter style={{ paddingTop: '1rem' }}>
      <StackItem>
        <Permissions repo={repo} />
      </StackItem>
      <StackItem>
        <Card>
          <CardTitle>Repository visibility</CardTitle>
          <CardBody>
            <Content>
              <p>This repository is currently {repo.is_public ? 'public and is visible to all users, and may be pulled by all users' : 'private. Only users on the permissions list may view and interact with it'}.</p>
            </Content>
            <Button variant="secondary" onClick={toggleVisibility}>
              Make {repo.is_public ? 'private' : 'public'}
            </Button>
          </CardBody>
        </Card>
      </StackItem>
      <StackItem>
        <Card>
          <CardTitle>Delete Repository</CardTitle>
          <CardBody>
            <Content>
              <p>Deleting a repository cannot be undone. Its tags, their history and its logs go with it.</p>
            </Content>
            <Button variant="danger" onClick={() => setDeleting(true)}>
              Delete Repository
            </Button>
          </CardBody>
        </Card>
      </StackItem>
      <FormModal
        title="Delete Repository"
        isOpen={deleting}
        onClose={() => setDeleting(false)}
        danger
        submitLabel="Delete"
        submitDisabled={confirm !== full}
        onSubmit={async () => {
          await api.del(base);
          await invalidate(['repositories']);
          alert('success', `Deleted ${full}`);
          navigate('/repository');
        }}
      >
        <FormGroup label={`Type ${full} to confirm`} fieldId="confirm-delete-repo">
          <TextInput id="confirm-delete-repo" value={confirm} onChange={(_e, v) => setConfirm(v)} />
        </FormGroup>
      </FormModal>
    </Stack>
  );
}
