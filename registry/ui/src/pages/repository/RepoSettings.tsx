/**
 * Repository settings: user/robot/team permissions, events and notifications, repository state (REPO_MIRROR),
 * visibility, deletion.
 */
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { Button, Card, CardBody, CardTitle, Content, FormGroup, Radio, Stack, StackItem } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import { useInvalidate, useRegistryInfo } from '../../api/hooks';
import { TypeToConfirmModal } from '../../components/common';
import ListWithActions from '../../components/ListWithActions';
import { useRunAction } from '../../components/runAction';
import { useAlert } from '../../components/alerts';
import EntityPicker, { type Entity } from '../../components/EntityPicker';
import RoleSelect from '../../components/RoleSelect';
import Avatar from '../../components/Avatar';
import type { Avatar as AvatarData } from '../../api/hooks';
import Notifications from './Notifications';
import type { Repository } from './types';

interface Permission {
  name: string;
  role: string;
  is_robot?: boolean;
  avatar?: AvatarData;
}

type PermissionRow = Permission & { type: 'user' | 'robot' | 'team' };

function Permissions({ repo }: { repo: Repository }) {
  const base = repoPath(repo.namespace, repo.name);
  const key = ['permissions', repo.namespace, repo.name];
  const [entity, setEntity] = useState<Entity | null>(null);
  const [role, setRole] = useState('read');
  const q = useQuery({
    queryKey: key,
    queryFn: async (): Promise<PermissionRow[]> => {
      const [users, teams] = await Promise.all([
        api.get<{ permissions: Record<string, Permission> }>(`${base}/permissions/user/`),
        repo.is_organization
          ? api.get<{ permissions: Record<string, Permission> }>(`${base}/permissions/team/`)
          : Promise.resolve({ permissions: {} as Record<string, Permission> }),
      ]);
      return [
        ...Object.values(users.permissions).map((p) => ({ ...p, type: p.is_robot ? ('robot' as const) : ('user' as const) })),
        ...Object.values(teams.permissions).map((p) => ({ ...p, type: 'team' as const })),
      ];
    },
  });
  const run = useRunAction([key]);
  const path = (type: string, name: string) => `${base}/permissions/${type === 'team' ? 'team' : 'user'}/${enc(name)}`;
  return (
    <Card>
      <CardTitle>User and robot permissions</CardTitle>
      <CardBody>
        <ListWithActions<PermissionRow>
          label="Repository permissions"
          query={q}
          rowKey={(p) => `${p.type}-${p.name}`}
          rowTestId="permission-entry"
          columns={[
            {
              title: 'Account',
              cell: (p) => (
                <>
                  <Avatar avatar={p.avatar} />
                  {p.name}
                </>
              ),
            },
            { title: 'Type', cell: (p) => p.type },
            {
              title: 'Permissions',
              cell: (p) => (
                <RoleSelect
                  id={`role-${p.type}-${p.name}`}
                  label={`Permission of ${p.name}`}
                  value={p.role}
                  onChange={(r) => run(`Changed ${p.name} to ${r}`, () => api.put(path(p.type, p.name), { role: r }))}
                />
              ),
            },
          ]}
          actions={() => [
            {
              title: 'Delete permission',
              confirm: (p) => `Remove the ${p.role} permission of ${p.name} on ${repo.namespace}/${repo.name}?`,
              run: (p) => api.del(path(p.type, p.name)),
              done: (p) => `Removed permission of ${p.name}`,
            },
          ]}
          create={{
            label: 'Add permissions',
            submitLabel: 'Add permission',
            submitDisabled: !entity,
            onSubmit: () => api.put(path(entity!.kind, entity!.name), { role }),
            done: `Added ${entity?.name ?? ''} with ${role}`,
            onClose: () => setEntity(null),
            fields: (
              <>
                <EntityPicker namespace={repo.namespace} value={entity} onChange={setEntity} includeTeams={repo.is_organization} />
                <FormGroup label="Permission" fieldId="new-permission-role">
                  <RoleSelect id="new-permission-role" label="Permission" value={role} onChange={setRole} />
                </FormGroup>
              </>
            ),
          }}
          empty={{ title: 'No permissions', body: 'Only the namespace admins can use this repository.' }}
          invalidates={[key]}
        />
      </CardBody>
    </Card>
  );
}

const STATES = [
  { value: 'NORMAL', label: 'Normal', help: 'Pushes and tag changes by users with write permission.' },
  { value: 'MIRROR', label: 'Mirror', help: 'Tags come from an external registry (configure it in the Mirroring tab); users cannot push.' },
  { value: 'READ_ONLY', label: 'Read Only', help: 'Nobody can push or change tags.' },
];

function RepositoryState({ repo }: { repo: Repository }) {
  const run = useRunAction([['repository', repo.namespace, repo.name]]);
  return (
    <Card>
      <CardTitle component="h2">Repository state</CardTitle>
      <CardBody>
        {STATES.map((s) => (
          <Radio
            key={s.value}
            id={`repo-state-${s.value}`}
            name="repo-state"
            label={s.label}
            description={s.help}
            isChecked={repo.state === s.value}
            onChange={() =>
              void run(`${repo.namespace}/${repo.name} is now in state ${s.label}`, () => api.put(`${repoPath(repo.namespace, repo.name)}/changestate`, { state: s.value }))
            }
          />
        ))}
      </CardBody>
    </Card>
  );
}

export default function RepoSettings({ repo }: { repo: Repository }) {
  const { features } = useRegistryInfo();
  const base = repoPath(repo.namespace, repo.name);
  const invalidate = useInvalidate();
  const alert = useAlert();
  const run = useRunAction([['repository', repo.namespace, repo.name], ['repositories']]);
  const navigate = useNavigate();
  const [deleting, setDeleting] = useState(false);
  const full = `${repo.namespace}/${repo.name}`;
  const visibility = repo.is_public ? 'private' : 'public';
  const toggleVisibility = () => run(`${full} is now ${visibility}`, () => api.post(`${base}/changevisibility`, { visibility }));
  return (
    <Stack hasGutter style={{ paddingTop: '1rem' }}>
      <StackItem>
        <Permissions repo={repo} />
      </StackItem>
      <StackItem>
        <Notifications repo={repo} />
      </StackItem>
      {features.REPO_MIRROR && (
        <StackItem>
          <RepositoryState repo={repo} />
        </StackItem>
      )}
      <StackItem>
        <Card>
          <CardTitle>Repository visibility</CardTitle>
          <CardBody>
            <Content>
              <p>
                This repository is currently{' '}
                {repo.is_public
                  ? 'public and is visible to all users, and may be pulled by all users'
                  : 'private. Only users on the permissions list may view and interact with it'}
                .
              </p>
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
      <TypeToConfirmModal
        title="Delete Repository"
        name={full}
        isOpen={deleting}
        onClose={() => setDeleting(false)}
        onConfirm={async () => {
          await api.del(base);
          await invalidate(['repositories']);
          alert('success', `Deleted ${full}`);
          navigate('/repository');
        }}
      />
    </Stack>
  );
}
