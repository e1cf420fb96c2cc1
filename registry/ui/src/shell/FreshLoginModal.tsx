/** Quay asks for the password again before sensitive changes when the session's login is old. */
import { useEffect, useRef, useState } from 'react';
import { FormGroup, TextInput } from '@patternfly/react-core';
import { api, onFreshLoginRequired } from '../api/client';
import { FormModal } from '../components/common';

export default function FreshLoginModal() {
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  const pending = useRef<((ok: boolean) => void) | null>(null);
  useEffect(() => {
    onFreshLoginRequired(
      () =>
        new Promise<boolean>((resolve) => {
          pending.current = resolve;
          setOpen(true);
        }),
    );
    return () => onFreshLoginRequired(null);
  }, []);
  const finish = (ok: boolean) => {
    pending.current?.(ok);
    pending.current = null;
    setPassword('');
    setOpen(false);
  };
  return (
    <FormModal
      title="Please verify"
      isOpen={open}
      onClose={() => finish(false)}
      submitLabel="Verify"
      onSubmit={async () => {
        await api.post('/signin/verify', { password });
        finish(true);
      }}
    >
      <p>It has been more than a few minutes since you last signed in. Please enter your password to continue.</p>
      <FormGroup label="Current Password" fieldId="fresh-password" isRequired>
        <TextInput id="fresh-password" type="password" value={password} onChange={(_e, v) => setPassword(v)} autoFocus />
      </FormGroup>
    </FormModal>
  );
}
