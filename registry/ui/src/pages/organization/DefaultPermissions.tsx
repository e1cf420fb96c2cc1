/** Default permissions (prototypes): who gets which role on repositories created in the organization. */
import { useState } from 'react';
import { Button, FormGroup, Radio, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { useInvalidate } from '../../api/hooks';
import { Empty, ErrorState, FormModal, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
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
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [creating, setCreating] = useState(false);
  const [anyone, setAnyone] = useState(true);
  const [creator, setCreator] = useState<Entity | null>(null);
  const [delegate, setDelegate] = useState<Entity | null>(null);
  const [role, setRole] = useState('read');
  const q = useQuery({ queryKey: ['prototypes', org], queryFn: () => api.get<{ prototypes: Prototype[] }>(base) });
  const run = async (label: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      alert('success', label);
    } catch (e) {
      alert('danger', errorMessage(e));
    }
    await invalidate(['prototypes', org]);
  };
  const entity = (e: Entity) => ({ name: e.name, kind: e.kind, is_robot: !!e.is_robot });
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <Button onClick={() => setCreating(true)}>Create default permission</Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {q.isLoading ? (
        <Loading />
      ) : q.error ? (
        <ErrorState error={q.error} />
      ) : q.data!.prototypes.length === 0 ? (
        <Empty title="No default permissions">Default permissions give a user, robot or team a role on every new repository of the organization.</Empty>
      ) : (
        <Table aria-label="Default permissions" variant="compact">
          <Thead>
            <Tr>
              <Th>Repository Created By</Th>
              <Th>Permission Applied To</Th>
              <Th>Permission</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {q.data!.prototypes.map((p) => (
              <Tr key={p.id} data-testid="table-entry">
                <Td dataLabel="Repository Created By">{p.activating_user ? p.activating_user.name : 'organization default'}</Td>
                <Td dataLabel="Permission Applied To">{entityLabel(p.delegate)}</Td>
                <Td dataLabel="Permission">
                  <RoleSelect id={`proto-${p.id}`} label={`Permission for ${p.delegate.name}`} value={p.role} onChange={(r) => run(`Changed to ${r}`, () => api.put(`${base}/${enc(p.id)}`, { role: r }))} />
                </Td>
                <Td isActionCell>
                  <Button variant="link" isDanger onClick={() => run('Deleted default permission', () => api.del(`${base}/${enc(p.id)}`))}>
                    Delete
                  </Button>
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      <FormModal
        title="Create default permission"
        isOpen={creating}
        onClose={() => { setCreating(false); setCreator(null); setDelegate(null); }}
        submitLabel="Create default permission"
        submitDisabled={!delegate || (!anyone && !creator)}
        onSubmit={async () => {
          await api.post(base, { ...(anyone || !creator ? {} : { activating_user: entity(creator) }), delegate: entity(delegate!), role });
          await invalidate(['prototypes', org]);
          alert('success', 'Created default permission');
        }}
      >
        <FormGroup label="Repository creator" role="radiogroup" fieldId="proto-creator" isStack>
          <Radio id="proto-anyone" name="proto-creator" label="Anyone" isChecked={anyone} onChange={() => setAnyone(true)} />
          <Radio id="proto-specific" name="proto-creator" label="Specific user" isChecked={!anyone} onChange={() => setAnyone(false)} />
        </FormGroup>
        {!anyone && <EntityPicker id="proto-creator-name" namespace={org} value={creator} onChange={setCreator} includeTeams={false} label="Repository created by" />}
        <EntityPicker id="proto-delegate" namespace={org} value={delegate} onChange={setDelegate} label="Applied to" />
        <FormGroup label="Permission" fieldId="proto-role">
          <RoleSelect id="proto-role" label="Permission" value={role} onChange={setRole} />
        </FormGroup>
      </FormModal>
    </>
  );
}
