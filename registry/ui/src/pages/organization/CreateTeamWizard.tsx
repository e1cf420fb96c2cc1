/**
 * "Create new team" wizard: Name & Description → Add to repository (optional) → Add team member (optional)
 * → Review and Finish. Finish creates the team (`PUT …/team/{team}`), then sets its repository roles and
 * adds (or invites) its members.
 */
import { useState } from 'react';
import { FormGroup, FormHelperText, FormSelect, FormSelectOption, HelperText, HelperTextItem, Label, LabelGroup, TextInput } from '@patternfly/react-core';
import { api, enc, repoPath } from '../../api/client';
import CreationWizard, { allOrFail, NO_ROLE, RepositoryRoles, ReviewList } from '../../components/CreationWizard';
import EntityPicker, { entityLabel, type Entity } from '../../components/EntityPicker';

const ROLES = ['member', 'creator', 'admin'];
const TEAM_NAME = /^[a-z][a-z0-9]+$/;

export default function CreateTeamWizard({ org, onClose }: { org: string; onClose: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [role, setRole] = useState('member');
  const [repos, setRepos] = useState<Record<string, string>>({});
  const [members, setMembers] = useState<Entity[]>([]);
  const granted = Object.entries(repos).filter(([, r]) => r !== NO_ROLE);
  const validName = TEAM_NAME.test(name);
  const finish = async () => {
    const team = `/organization/${enc(org)}/team/${enc(name)}`;
    await api.put(team, { name, role, description });
    await allOrFail(`Team ${name}`, [
      ...granted.map(([repo, r]): [string, () => Promise<unknown>] => [repo, () => api.put(`${repoPath(org, repo)}/permissions/team/${enc(name)}`, { role: r })]),
      ...members.map((m): [string, () => Promise<unknown>] => [m.name, () => api.put(`${team}/members/${enc(m.name)}`)]),
    ]);
    return `Created team ${name}`;
  };
  return (
    <CreationWizard
      title="Create new team"
      onClose={onClose}
      onFinish={finish}
      invalidates={[
        ['organization', org],
        ['permissions', org],
      ]}
      steps={[
        {
          id: 'name',
          name: 'Name & Description',
          incomplete: !validName,
          body: (
            <>
              <FormGroup label="Team name" fieldId="team-name" isRequired>
                <TextInput id="team-name" value={name} onChange={(_e, v) => setName(v)} validated={name && !validName ? 'error' : 'default'} />
                <FormHelperText>
                  <HelperText>
                    <HelperTextItem variant={name && !validName ? 'error' : 'default'}>
                      Lowercase letters and digits, starting with a letter, at least two characters.
                    </HelperTextItem>
                  </HelperText>
                </FormHelperText>
              </FormGroup>
              <FormGroup label="Description" fieldId="team-description" style={{ marginTop: '1rem' }}>
                <TextInput id="team-description" value={description} onChange={(_e, v) => setDescription(v)} />
              </FormGroup>
              <FormGroup label="Team role" fieldId="team-role" style={{ marginTop: '1rem' }}>
                <FormSelect id="team-role" value={role} onChange={(_e, v) => setRole(v)} style={{ width: 'auto' }}>
                  {ROLES.map((r) => (
                    <FormSelectOption key={r} value={r} label={r.charAt(0).toUpperCase() + r.slice(1)} />
                  ))}
                </FormSelect>
              </FormGroup>
            </>
          ),
        },
        { id: 'repositories', name: 'Add to repository', body: <RepositoryRoles namespace={org} roles={repos} onChange={setRepos} /> },
        {
          id: 'members',
          name: 'Add team member',
          body: (
            <>
              <EntityPicker
                namespace={org}
                value={null}
                includeTeams={false}
                label="User or robot account"
                id="team-member"
                onChange={(e) => e && !members.some((m) => m.name === e.name) && setMembers([...members, e])}
              />
              <LabelGroup categoryName="Members to add" numLabels={20} style={{ marginTop: '1rem' }}>
                {members.map((m) => (
                  <Label key={m.name} onClose={() => setMembers(members.filter((x) => x.name !== m.name))} closeBtnAriaLabel={`Do not add ${m.name}`}>
                    {entityLabel(m)}
                  </Label>
                ))}
              </LabelGroup>
            </>
          ),
        },
      ]}
      review={
        <ReviewList
          items={[
            ['Team name', name],
            ['Description', description],
            ['Team role', role],
            ['Repositories', granted.map(([repo, r]) => `${repo} (${r})`).join(', ')],
            ['Members', members.map((m) => m.name).join(', ')],
          ]}
        />
      }
    />
  );
}
