/**
 * The creation wizards (team, robot account): a PatternFly Wizard in a modal whose last step, "Review and
 * Finish", runs `onFinish`. Its error stays in the wizard; success toasts, reloads the named queries and
 * closes. Also the steps both wizards share: a role per repository of the namespace, and a review list.
 */
import { useState, type ReactNode } from 'react';
import {
  Alert,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Modal,
  ModalVariant,
  Wizard,
  WizardHeader,
  WizardStep,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { useInvalidate } from '../api/hooks';
import { errorMessage, useAlert } from './alerts';
import { Empty, ErrorState, Loading } from './common';
import { allRepositories } from './RepositoryPermissionsModal';
import RoleSelect from './RoleSelect';

export interface WizardStepDef {
  id: string;
  name: string;
  body: ReactNode;
  /** The step's Next stays disabled (a required field is missing or invalid). */
  incomplete?: boolean;
}

export const NO_ROLE = 'none';

export default function CreationWizard({
  title,
  steps,
  review,
  onFinish,
  invalidates,
  onClose,
}: {
  title: string;
  steps: WizardStepDef[];
  review: ReactNode;
  /** Does the work; resolves to the success toast's text. */
  onFinish: () => Promise<string>;
  invalidates: unknown[][];
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const alert = useAlert();
  const invalidate = useInvalidate();
  const incomplete = steps.some((s) => s.incomplete);
  const finish = async () => {
    setBusy(true);
    setError(null);
    try {
      const done = await onFinish();
      await invalidate(...invalidates);
      alert('success', done);
      onClose();
    } catch (e) {
      setError(errorMessage(e));
      await invalidate(...invalidates);
    } finally {
      setBusy(false);
    }
  };
  const titleId = `wizard-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <Modal isOpen variant={ModalVariant.large} onEscapePress={onClose} aria-labelledby={titleId}>
      <Wizard height={520} header={<WizardHeader title={title} titleId={titleId} onClose={onClose} closeButtonAriaLabel={`Close ${title}`} />} onClose={onClose} onSave={finish}>
        {steps.map((s) => (
          <WizardStep key={s.id} id={s.id} name={s.name} footer={{ isNextDisabled: !!s.incomplete }}>
            {s.body}
          </WizardStep>
        ))}
        <WizardStep
          id="review"
          name="Review and Finish"
          isDisabled={incomplete}
          footer={{ nextButtonText: 'Review and Finish', isNextDisabled: busy || incomplete, nextButtonProps: { isLoading: busy } }}
        >
          {error && <Alert variant="danger" isInline title={error} style={{ marginBottom: '1rem' }} data-testid="wizard-error" />}
          {review}
        </WizardStep>
      </Wizard>
    </Modal>
  );
}

export function ReviewList({ items }: { items: [string, ReactNode][] }) {
  return (
    <DescriptionList isHorizontal data-testid="wizard-review">
      {items.map(([term, value]) => (
        <DescriptionListGroup key={term}>
          <DescriptionListTerm>{term}</DescriptionListTerm>
          <DescriptionListDescription>{value || 'None'}</DescriptionListDescription>
        </DescriptionListGroup>
      ))}
    </DescriptionList>
  );
}

/** Every repository of the namespace with a role select (None, Read, Write, Admin); `roles` holds the changed ones. */
export function RepositoryRoles({ namespace, roles, onChange }: { namespace: string; roles: Record<string, string>; onChange: (r: Record<string, string>) => void }) {
  const q = useQuery({ queryKey: ['wizard-repositories', namespace], queryFn: () => allRepositories(namespace), gcTime: 0 });
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} />;
  if (!q.data!.length) return <Empty title={`${namespace} has no repositories yet`} />;
  return (
    <Table aria-label="Repository permissions" variant="compact">
      <Thead>
        <Tr>
          <Th>Repository</Th>
          <Th>Permission</Th>
        </Tr>
      </Thead>
      <Tbody>
        {q.data!.map((name) => (
          <Tr key={name} data-testid="repo-permission">
            <Td dataLabel="Repository">{name}</Td>
            <Td dataLabel="Permission">
              <RoleSelect
                id={`wizard-perm-${name}`}
                label={`Permission on ${name}`}
                roles={[NO_ROLE, 'read', 'write', 'admin']}
                value={roles[name] ?? NO_ROLE}
                onChange={(v) => onChange({ ...roles, [name]: v })}
              />
            </Td>
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}

/** Runs the follow-up calls of a creation; throws one error naming every call that failed. */
export async function allOrFail(what: string, calls: [string, () => Promise<unknown>][]): Promise<void> {
  const results = await Promise.allSettled(calls.map(([, fn]) => fn()));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${calls[i][0]}: ${errorMessage(r.reason)}`] : []));
  if (failed.length) throw new Error(`${what} was created, but not all of it: ${failed.join('; ')}`);
}
