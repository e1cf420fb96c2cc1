/** Small building blocks every page uses: modals with a submit action, copyable fields, states. */
import { useState, type FormEvent, type ReactNode } from 'react';
import {
  Alert,
  Bullseye,
  Button,
  ClipboardCopy,
  ClipboardCopyVariant,
  EmptyState,
  EmptyStateBody,
  Form,
  FormGroup,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  Spinner,
  TextInput,
} from '@patternfly/react-core';
import { errorMessage } from './alerts';

export function Loading({ label = 'Loading' }: { label?: string }) {
  return (
    <Bullseye style={{ padding: '2rem' }}>
      <Spinner aria-label={label} />
    </Bullseye>
  );
}

export function ErrorState({ error, title = 'Unable to load' }: { error: unknown; title?: string }) {
  return (
    <Alert variant="danger" isInline title={title} data-testid="error-state">
      {errorMessage(error)}
    </Alert>
  );
}

export function Empty({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <EmptyState titleText={title} headingLevel="h2">
      {children && <EmptyStateBody>{children}</EmptyStateBody>}
      {action}
    </EmptyState>
  );
}

export function Copy({ value, label, multiline = false, testId }: { value: string; label: string; multiline?: boolean; testId?: string }) {
  return (
    <ClipboardCopy
      isReadOnly
      hoverTip="Copy"
      clickTip="Copied"
      textAriaLabel={label}
      toggleAriaLabel={`Show ${label}`}
      variant={multiline ? ClipboardCopyVariant.expansion : ClipboardCopyVariant.inline}
      isExpanded={multiline}
      data-testid={testId}
    >
      {value}
    </ClipboardCopy>
  );
}

interface FormModalProps {
  title: string;
  isOpen: boolean;
  onClose: () => void;
  /** Resolves when done (the modal closes); throws to show the error inside the modal. */
  onSubmit: () => Promise<unknown>;
  submitLabel: string;
  submitDisabled?: boolean;
  danger?: boolean;
  children?: ReactNode;
  variant?: 'small' | 'medium' | 'large';
}

export function FormModal({ title, isOpen, onClose, onSubmit, submitLabel, submitDisabled, danger, children, variant = 'small' }: FormModalProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit();
      onClose();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const close = () => {
    setError(null);
    onClose();
  };
  const formId = `form-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <Modal variant={variant} isOpen={isOpen} onClose={close} aria-labelledby={`${formId}-title`}>
      <ModalHeader title={title} labelId={`${formId}-title`} />
      <ModalBody>
        {error && <Alert variant="danger" isInline title={error} style={{ marginBottom: '1rem' }} data-testid="modal-error" />}
        <Form id={formId} onSubmit={submit}>
          {children}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button type="submit" form={formId} variant={danger ? 'danger' : 'primary'} isLoading={busy} isDisabled={busy || submitDisabled}>
          {submitLabel}
        </Button>
        <Button variant="link" onClick={close}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}

/** A destructive action that cannot be undone: the user types the name of what goes away first. */
export function TypeToConfirmModal({
  title,
  name,
  isOpen,
  onClose,
  onConfirm,
}: {
  title: string;
  name: string;
  isOpen: boolean;
  onClose: () => void;
  onConfirm: () => Promise<unknown>;
}) {
  const [typed, setTyped] = useState('');
  return (
    <FormModal
      title={title}
      isOpen={isOpen}
      onClose={() => {
        setTyped('');
        onClose();
      }}
      danger
      submitLabel="Delete"
      submitDisabled={typed !== name}
      onSubmit={onConfirm}
    >
      <FormGroup label={`Type ${name} to confirm`} fieldId="type-to-confirm">
        <TextInput id="type-to-confirm" value={typed} onChange={(_e, v) => setTyped(v)} />
      </FormGroup>
    </FormModal>
  );
}
