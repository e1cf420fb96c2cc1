/** Default permissions (prototypes): who gets which role on repositories created in the organization. */
import { useState } from 'react';
import { FormGroup, Radio } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import ListWithActions from '../../components/ListWithActions';
import { useRunAction } from '../../components/runAction';
import EntityPicker, { entityLabel, type Entity } from '../../components/EntityPicker';
import RoleSelect from '../../components/RoleSelect';

interface Prototype {
  id: string;
  role: string;
  activating_user: Entity | null;
  delegate: Entity;
}

export default function DefaultPermissions({ org }: { org: string }) {
  const base = `/organization/${enc(org)}/prototypes`;
  const key = ['prototypes', org];
  const [anyone, setAnyone] = useState(true);
  const [creator, setCreator] = useState<Entity | null>(null);
  const [delegate, setDelegate] = useState<Entity | null>(null);
  const [role, setRole] = useState('read');
  const q = useQuery({ queryKey: key, queryFn: () => api.get<{ prototypes: Prototype[] }>(base), select: (d) => d.prototypes });
  const run = useRunAction([key]);
  const entity = (e: Entity) => ({ name: e.name, kind: e.kind, is_robot: !!e.is_robot });
  return (
    <ListWithActions<Prototype>
      label="Default permissions"
      query={q}
      rowKey={(p) => p.id}
      columns={[
        { title: 'Repository Created By', cell: (p) => (p.activating_user ? p.activating_user.name : 'organization default') },
        { title: 'Permission Applied To', cell: (p) => entityLabel(p.delegate) },
        {
          title: 'Permission',
          cell: (p) => (
            <RoleSelect
              id={`proto-${p.id}`}
              label={`Permission for ${p.delegate.name}`}
              value={p.role}
              onChange={(r) => run(`Changed to ${r}`, () => api.put(`${base}/${enc(p.id)}`, { role: r }))}
            />
          ),
        },
      ]}
      actions={() => [
        {
          title: 'Delete',
          confirm: (p) => `Delete the default permission of ${p.delegate.name}? Existing repositories keep their permissions.`,
          run: (p) => api.del(`${base}/${enc(p.id)}`),
          done: () => 'Deleted default permission',
        },
      ]}
      create={{
        label: 'Create default permission',
        submitDisabled: !delegate || (!anyone && !creator),
        onSubmit: () => api.post(base, { ...(anyone || !creator ? {} : { activating_user: entity(creator) }), delegate: entity(delegate!), role }),
        done: 'Created default permission',
        onClose: () => {
          setCreator(null);
          setDelegate(null);
        },
        fields: (
          <>
            <FormGroup label="Repository creator" role="radiogroup" fieldId="proto-creator" isStack>
              <Radio id="proto-anyone" name="proto-creator" label="Anyone" isChecked={anyone} onChange={() => setAnyone(true)} />
              <Radio id="proto-specific" name="proto-creator" label="Specific user" isChecked={!anyone} onChange={() => setAnyone(false)} />
            </FormGroup>
            {!anyone && <EntityPicker id="proto-creator-name" namespace={org} value={creator} onChange={setCreator} includeTeams={false} label="Repository created by" />}
            <EntityPicker id="proto-delegate" namespace={org} value={delegate} onChange={setDelegate} label="Applied to" />
            <FormGroup label="Permission" fieldId="proto-role">
              <RoleSelect id="proto-role" label="Permission" value={role} onChange={setRole} />
            </FormGroup>
          </>
        ),
      }}
      empty={{ title: 'No default permissions', body: 'Default permissions give a user, robot or team a role on every new repository of the organization.' }}
      invalidates={[key]}
    />
  );
}
