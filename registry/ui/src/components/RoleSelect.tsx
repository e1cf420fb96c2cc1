import { FormSelect, FormSelectOption } from '@patternfly/react-core';

export type Role = 'read' | 'write' | 'admin';

export default function RoleSelect({
  value,
  onChange,
  id,
  label,
  roles = ['read', 'write', 'admin'],
}: {
  value: string;
  onChange: (r: string) => void;
  id: string;
  label: string;
  roles?: string[];
}) {
  return (
    <FormSelect id={id} value={value} onChange={(_e, v) => onChange(v)} aria-label={label} style={{ width: 'auto' }}>
      {roles.map((r) => (
        <FormSelectOption key={r} value={r} label={r.charAt(0).toUpperCase() + r.slice(1)} />
      ))}
    </FormSelect>
  );
}
