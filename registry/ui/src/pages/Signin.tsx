/**
 * Sign-in page: username/password against POST /api/v1/signin, then the page the visitor wanted. With e-mail on,
 * "Forgot password?" asks POST /api/v1/recovery to mail a link that signs the user in to set a new password.
 */
import { useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { ActionGroup, Alert, Button, Card, CardBody, CardTitle, Content, Form, FormGroup, TextInput, Title } from '@patternfly/react-core';
import { useQueryClient } from '@tanstack/react-query';
import { api, resetCsrf } from '../api/client';
import { useRegistryInfo, useUser } from '../api/hooks';
import { errorMessage } from '../components/alerts';
import Recaptcha from '../components/Recaptcha';

/** Only same-site paths are followed after sign-in. */
export function safeRedirect(target: string | null): string {
  return target && target.startsWith('/') && !target.startsWith('//') ? target : '/organization';
}

export default function Signin() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [recovering, setRecovering] = useState(false);
  const [recoveryEmail, setRecoveryEmail] = useState('');
  const [recoveryNote, setRecoveryNote] = useState<string | null>(null);
  const [captcha, setCaptcha] = useState('');
  // A new key remounts the widget: an answer is good for one request.
  const [captchaRound, setCaptchaRound] = useState(0);
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const { data: user } = useUser();
  const { title, features, config } = useRegistryInfo();
  const siteKey = features.RECAPTCHA ? (config.RECAPTCHA_SITE_KEY as string | undefined) : undefined;
  if (user && !user.anonymous) return <Navigate to={safeRedirect(params.get('redirect'))} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      resetCsrf();
      await api.post('/signin', { username, password });
      setPassword('');
      resetCsrf();
      await qc.resetQueries();
      navigate(safeRedirect(params.get('redirect')), { replace: true });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const recover = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<{ status: string; orgname?: string }>('/recovery', { email: recoveryEmail, ...(siteKey ? { recaptcha_response: captcha } : {}) });
      setRecoveryNote(
        r.status === 'org'
          ? `${recoveryEmail} belongs to the organization ${r.orgname}, which has no password: its administrators were mailed to you.`
          : `If an account uses ${recoveryEmail}, a link to set a new password was mailed to it.`,
      );
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
      if (siteKey) {
        setCaptcha('');
        setCaptchaRound((n) => n + 1);
      }
    }
  };
  return (
    <main className="quay-signin">
      <Card>
        <CardTitle>
          <Title headingLevel="h1" size="2xl">
            <img src="/favicon.svg" alt="" width={32} height={32} style={{ verticalAlign: 'middle', marginRight: 8 }} />
            {title}
          </Title>
        </CardTitle>
        <CardBody>
          {error && <Alert variant="danger" isInline title={error} style={{ marginBottom: '1rem' }} data-testid="signin-error" />}
          <Form onSubmit={submit}>
            <FormGroup label="Username" fieldId="username" isRequired>
              <TextInput id="username" value={username} onChange={(_e, v) => setUsername(v)} autoComplete="username" isRequired autoFocus />
            </FormGroup>
            <FormGroup label="Password" fieldId="password" isRequired>
              <TextInput id="password" type="password" value={password} onChange={(_e, v) => setPassword(v)} autoComplete="current-password" isRequired />
            </FormGroup>
            <ActionGroup>
              <Button type="submit" variant="primary" isBlock isLoading={busy} isDisabled={busy || !username || !password}>
                Sign in
              </Button>
            </ActionGroup>
          </Form>
          {features.MAILING && !recovering && (
            <Button variant="link" isInline style={{ marginTop: '0.5rem' }} onClick={() => setRecovering(true)}>
              Forgot password?
            </Button>
          )}
          {recovering && (
            <Form onSubmit={recover} style={{ marginTop: '1rem' }}>
              {recoveryNote && <Alert variant="info" isInline title={recoveryNote} data-testid="recovery-note" />}
              <FormGroup label="E-mail address of the account" fieldId="recovery-email" isRequired>
                <TextInput id="recovery-email" type="email" value={recoveryEmail} onChange={(_e, v) => setRecoveryEmail(v)} autoComplete="email" isRequired />
              </FormGroup>
              {siteKey && <Recaptcha key={captchaRound} siteKey={siteKey} onChange={setCaptcha} />}
              <ActionGroup>
                <Button type="submit" variant="secondary" isLoading={busy} isDisabled={busy || !recoveryEmail || (!!siteKey && !captcha)}>
                  Send recovery e-mail
                </Button>
              </ActionGroup>
            </Form>
          )}
          <Content style={{ marginTop: '1rem' }}>
            {features.USER_CREATION !== false && (
              <p>
                Don&apos;t have an account? <Link to="/createaccount">Create account</Link>
              </p>
            )}
            {features.ANONYMOUS_ACCESS !== false && (
              <p>
                Or <Link to="/repository">browse public repositories</Link>
              </p>
            )}
          </Content>
        </CardBody>
      </Card>
    </main>
  );
}
