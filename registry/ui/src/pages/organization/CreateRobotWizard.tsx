/**
 * "Create robot account" wizard: Robot name and description → Add to team (optional, organizations) → Add to
 * repository (optional) → Default permissions (optional, organizations) → Review and Finish. Finish creates
 * the robot (`PUT …/robots/{short}`), then adds it to the teams, gives it the repository roles and creates
 * the default permission (a prototype for repositories anyone creates).
 */
import { useState } from 'react';
import { Checkbox, Content, FormGroup, FormHelperText, HelperText, HelperTextItem, TextInput } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import CreationWizard, { allOrFail, NO_ROLE, RepositoryRoles, ReviewList, type WizardStepDef } from '../../components/CreationWizard';
import { Empty, ErrorState, Loading } from '../../components/common';
import RoleSelect from '../../components/RoleSelect';
import type { Org } from './types';
import { robotBase } from './types';

const ROBOT_NAME = /^[a-z][a-z0-9_]{1,254}$/;

function TeamChoice({ org, chosen, onChange }: { org: string; chosen: string[]; onChange: (t: string[]) => void }) {
  const q = useQuery({ queryKey: ['wizard-teams', org], queryFn: () => api.get<Org>(`/organization/${enc(org)}`), gcTime: 0 });
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} />;
  const teams = q.data!.ordered_teams ?? Object.keys(q.data!.teams ?? {});
  if (!teams.length) return <Empty title={`${org} has no teams`} />;
  return (
    <FormGroup role="group" label="Teams" fieldId="robot-teams">
      {teams.map((t) => (
        <Checkbox key={t} id={`robot-team-${t}`} label={t} isChecked={chosen.includes(t)} onChange={(_e, on) => onChange(on ? [...chosen, t] : chosen.filter((x) => x !== t))} />
      ))}
    </FormGroup>
  );
}

export default function CreateRobotWizard({ namespace, isUser, onClose }: { namespace: string; isUser: boolean; onClose: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [teams, setTeams] = useState<string[]>([]);
  const [repos, setRepos] = useState<Record<string, string>>({});
  const [defaultRole, setDefaultRole] = useState(NO_ROLE);
  const granted = Object.entries(repos).filter(([, r]) => r !== NO_ROLE);
  const validName = ROBOT_NAME.test(name);
  const full = `${namespace}+${name}`;
  const finish = async () => {
    await api.put(`${robotBase(namespace, isUser)}/${enc(name)}`, { description });
    await allOrFail(`Robot account ${full}`, [
      ...teams.map((t): [string, () => Promise<unknown>] => [`team ${t}`, () => api.put(`/organization/${enc(namespace)}/team/${enc(t)}/members/${enc(full)}`)]),
      ...granted.map(([repo, r]): [string, () => Promise<unknown>] => [repo, () => api.put(`${repoPath(namespace, repo)}/permissions/user/${enc(full)}`, { role: r })]),
      ...(defaultRole !== NO_ROLE
        ? [
            ['default permission', () => api.post(`/organization/${enc(namespace)}/prototypes`, { delegate: { name: full, kind: 'user', is_robot: true }, role: defaultRole })] as [
              string,
              () => Promise<unknown>,
            ],
          ]
        : []),
    ]);
    return `Created robot account ${full}`;
  };
  const steps: WizardStepDef[] = [
    {
      id: 'name',
      name: 'Robot name and description',
      incomplete: !validName,
      body: (
        <>
          <FormGroup label="Robot name" fieldId="robot-name" isRequired>
            <TextInput id="robot-name" value={name} onChange={(_e, v) => setName(v)} validated={name && !validName ? 'error' : 'default'} />
            <FormHelperText>
              <HelperText>
                <HelperTextItem variant={name && !validName ? 'error' : 'default'}>
                  Lowercase letters, digits and underscores, starting with a letter; the account is {namespace}+name.
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <FormGroup label="Description" fieldId="robot-description" style={{ marginTop: '1rem' }}>
            <TextInput id="robot-description" value={description} onChange={(_e, v) => setDescription(v)} />
          </FormGroup>
        </>
      ),
    },
    ...(isUser ? [] : [{ id: 'teams', name: 'Add to team', body: <TeamChoice org={namespace} chosen={teams} onChange={setTeams} /> }]),
    { id: 'repositories', name: 'Add to repository', body: <RepositoryRoles namespace={namespace} roles={repos} onChange={setRepos} /> },
    ...(isUser
      ? []
      : [
          {
            id: 'default-permissions',
            name: 'Default permissions',
            body: (
              <>
                <Content>
                  <p>The permission the robot account gets on every repository created in {namespace} from now on.</p>
                </Content>
                <FormGroup label="Permission on new repositories" fieldId="robot-default-permission" style={{ marginTop: '1rem' }}>
                  <RoleSelect
                    id="robot-default-permission"
                    label="Permission on new repositories"
                    roles={[NO_ROLE, 'read', 'write', 'admin']}
                    value={defaultRole}
                    onChange={setDefaultRole}
                  />
                </FormGroup>
              </>
            ),
          },
        ]),
  ];
  return (
    <CreationWizard
      title="Create robot account"
      onClose={onClose}
      onFinish={finish}
      invalidates={[
        ['robots', namespace],
        ['organization', namespace],
        ['permissions', namespace],
      ]}
      steps={steps}
      review={
        <ReviewList
          items={[
            ['Robot account', full],
            ['Description', description],
            ...(isUser ? [] : ([['Teams', teams.join(', ')]] as [string, string][])),
            ['Repositories', granted.map(([repo, r]) => `${repo} (${r})`).join(', ')],
            ...(isUser ? [] : ([['Default permission', defaultRole === NO_ROLE ? '' : defaultRole]] as [string, string][])),
          ]}
        />
      }
    />
  );
}
