/** Pick a user, robot or team of a namespace by name prefix (GET /api/v1/entities/{prefix}). */
import { useState } from 'react';
import { Button, Flex, FormGroup, Label, TextInput } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../api/client';

export interface Entity {
  name: string;
  kind: 'user' | 'team' | 'org';
  is_robot?: boolean;
}

export function entityLabel(e: Entity): string {
  return e.kind === 'team' ? `team ${e.name}` : e.is_robot ? `robot ${e.name}` : `user ${e.name}`;
}

export default function EntityPicker({
  namespace,
  value,
  onChange,
  label = 'User, robot or team',
  includeTeams = true,
  id = 'entity',
}: {
  namespace: string;
  value: Entity | null;
  onChange: (e: Entity | null) => void;
  label?: string;
  includeTeams?: boolean;
  id?: string;
}) {
  const [prefix, setPrefix] = useState('');
  const q = useQuery({
    queryKey: ['entities', namespace, prefix, includeTeams],
    queryFn: () => api.get<{ results: Entity[] }>(`/entities/${enc(prefix)}?namespace=${enc(namespace)}&includeTeams=${includeTeams}&includeOrgs=false`),
    enabled: prefix.length > 0 && !value,
  });
  return (
    <FormGroup label={label} fieldId={id} isRequired>
      {value ? (
        <Label color="blue" onClose={() => onChange(null)} closeBtnAriaLabel="Clear selection" data-testid="picked-entity">
          {entityLabel(value)}
        </Label>
      ) : (
        <>
          <TextInput id={id} value={prefix} onChange={(_e, v) => setPrefix(v)} placeholder="Start typing a name" autoComplete="off" />
          <Flex spaceItems={{ default: 'spaceItemsSm' }} style={{ marginTop: 8 }} role="listbox" aria-label="Matching entities">
            {(q.data?.results ?? []).slice(0, 12).map((e) => (
              <Button key={`${e.kind}-${e.name}`} variant="tertiary" size="sm" role="option" aria-selected={false} onClick={() => onChange(e)}>
                {entityLabel(e)}
              </Button>
            ))}
          </Flex>
        </>
      )}
    </FormGroup>
  );
}
