/**
 * Create account (FEATURE_USER_CREATION): POST /api/v1/user/ signs the new user in, or with e-mail on answers
 * `awaiting_verification` and the page says to follow the mailed link. With FEATURE_RECAPTCHA the form carries
 * the reCAPTCHA answer as `recaptcha_response`; a refused one resets the challenge.
 */
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import {
  ActionGroup,
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  Content,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { useQueryClient } from '@tanstack/react-query';
import { api, resetCsrf } from '../api/client';
import { errorMessage } from '../components/alerts';
import { useRegistryInfo } from '../api/hooks';
import Recaptcha from '../components/Recaptcha';

export default function CreateAccount() {
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  // A team invitation's code (mailed; FEATURE_INVITE_ONLY_USER_CREATION needs one), also taken from ?invite_code=.
  const [params] = useSearchParams();
  const [inviteCode, setInviteCode] = useState(params.get('invite_code') ?? '');
  const { features, config } = useRegistryInfo();
  const siteKey = features.RECAPTCHA ? (config.RECAPTCHA_SITE_KEY as string | undefined) : undefined;
  const [captcha, setCaptcha] = useState('');
  // A new key remounts the widget: an answer is good for one request.
  const [captchaRound, setCaptchaRound] = useState(0);
  const inviteOnly = !!features.INVITE_ONLY_USER_CREATION;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [mailedTo, setMailedTo] = useState<string | null>(null);
  const navigate = useNavigate();
  const qc = useQueryClient();
  const mismatch = confirm !== '' && confirm !== password;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api.post<{ awaiting_verification?: boolean }>('/user/', {
        username,
        password,
        ...(email ? { email } : {}),
        ...(inviteCode ? { invite_code: inviteCode } : {}),
        ...(siteKey ? { recaptcha_response: captcha } : {}),
      });
      if (created?.awaiting_verification) {
        setMailedTo(email);
        return;
      }
      resetCsrf();
      await qc.resetQueries();
      navigate('/organization', { replace: true });
    } catch (err) {
      setError(errorMessage(err));
      if (siteKey) {
        setCaptcha('');
        setCaptchaRound((n) => n + 1);
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="quay-signin">
      <Card>
        <CardTitle>
          <Title headingLevel="h1" size="2xl">
            Create account
          </Title>
        </CardTitle>
        <CardBody>
          {error && <Alert variant="danger" isInline title={error} style={{ marginBottom: '1rem' }} />}
          {mailedTo && (
            <Alert variant="success" isInline title="Confirm your e-mail address" style={{ marginBottom: '1rem' }} data-testid="awaiting-verification">
              A confirmation link was mailed to {mailedTo}. Follow it to finish creating the account; it signs you in.
            </Alert>
          )}
          <Form onSubmit={submit}>
            <FormGroup label="Username" fieldId="new-username" isRequired>
              <TextInput id="new-username" value={username} onChange={(_e, v) => setUsername(v)} autoComplete="username" isRequired />
            </FormGroup>
            <FormGroup label="Email" fieldId="new-email">
              <TextInput id="new-email" type="email" value={email} onChange={(_e, v) => setEmail(v)} autoComplete="email" />
            </FormGroup>
            {(inviteOnly || inviteCode) && (
              <FormGroup label="Invitation code" fieldId="invite-code" isRequired={inviteOnly}>
                <TextInput id="invite-code" value={inviteCode} onChange={(_e, v) => setInviteCode(v)} isRequired={inviteOnly} />
                <FormHelperText>
                  <HelperText>
                    <HelperTextItem>The code of the team invitation mailed to the e-mail address above.</HelperTextItem>
                  </HelperText>
                </FormHelperText>
              </FormGroup>
            )}
            <FormGroup label="Password" fieldId="new-password" isRequired>
              <TextInput id="new-password" type="password" value={password} onChange={(_e, v) => setPassword(v)} autoComplete="new-password" isRequired />
              <FormHelperText>
                <HelperText>
                  <HelperTextItem>At least 8 characters.</HelperTextItem>
                </HelperText>
              </FormHelperText>
            </FormGroup>
            <FormGroup label="Confirm password" fieldId="confirm-password" isRequired>
              <TextInput
                id="confirm-password"
                type="password"
                value={confirm}
                onChange={(_e, v) => setConfirm(v)}
                autoComplete="new-password"
                validated={mismatch ? 'error' : 'default'}
                isRequired
              />
              {mismatch && (
                <FormHelperText>
                  <HelperText>
                    <HelperTextItem variant="error">Passwords do not match.</HelperTextItem>
                  </HelperText>
                </FormHelperText>
              )}
            </FormGroup>
            {siteKey && <Recaptcha key={captchaRound} siteKey={siteKey} onChange={setCaptcha} />}
            <ActionGroup>
              <Button type="submit" isBlock isLoading={busy} isDisabled={busy || !username || password.length < 8 || password !== confirm || (!!siteKey && !captcha)}>
                Create account
              </Button>
            </ActionGroup>
          </Form>
          <Content style={{ marginTop: '1rem' }}>
            <p>
              Already have an account? <Link to="/signin">Sign in</Link>
            </p>
          </Content>
        </CardBody>
      </Card>
    </main>
  );
}
