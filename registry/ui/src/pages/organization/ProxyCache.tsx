/**
 * Settings → Proxy Cache of an organization (FEATURE_PROXY_CACHE): the upstream registry its repositories
 * cache. Saving validates against the upstream first (`POST …/validateproxycache`), then stores it
 * (`POST …/proxycache`); the stored credentials are never shown again. Delete removes the configuration.
 */
import { useState } from 'react';
import {
  ActionGroup,
  Button,
  Checkbox,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Form,
  FormGroup,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { duration } from '../../api/format';
import { ErrorState, FormModal, Loading } from '../../components/common';
import { useAlert } from '../../components/alerts';
import { useInvalidate } from '../../api/hooks';
import { useRunAction } from '../../components/runAction';

interface ProxyConfig {
  upstream_registry: string;
  expiration_s: number | '';
  insecure: boolean | '';
}

const DEFAULT_EXPIRATION_S = 86400;

export default function ProxyCache({ org }: { org: string }) {
  const base = `/organization/${enc(org)}`;
  const key = ['proxycache', org];
  const q = useQuery({ queryKey: key, queryFn: () => api.get<ProxyConfig>(`${base}/proxycache`) });
  const run = useRunAction([key]);
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [registry, setRegistry] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [expiration, setExpiration] = useState(String(DEFAULT_EXPIRATION_S));
  const [insecure, setInsecure] = useState(false);
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState(false);
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} title="Unable to load the proxy cache configuration" />;
  const cfg = q.data!;
  const expirationValid = /^\d+$/.test(expiration);
  const valid = registry.trim() !== '' && expirationValid && !!username === !!password;

  if (cfg.upstream_registry) {
    return (
      <>
        <Title headingLevel="h3">Proxy Cache</Title>
        <DescriptionList isHorizontal data-testid="proxy-cache-config" style={{ margin: '1rem 0' }}>
          <DescriptionListGroup>
            <DescriptionListTerm>Remote Registry</DescriptionListTerm>
            <DescriptionListDescription>{cfg.upstream_registry}</DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Expiration</DescriptionListTerm>
            <DescriptionListDescription>{cfg.expiration_s === 0 ? 'Never' : duration(Number(cfg.expiration_s))}</DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Insecure</DescriptionListTerm>
            <DescriptionListDescription>{cfg.insecure ? 'Yes (plain HTTP, no TLS verification)' : 'No'}</DescriptionListDescription>
          </DescriptionListGroup>
        </DescriptionList>
        <Button variant="danger" onClick={() => setDeleting(true)}>
          Delete
        </Button>
        {deleting && (
          <FormModal
            title="Delete proxy cache configuration"
            isOpen
            danger
            submitLabel="Delete"
            onClose={() => setDeleting(false)}
            onSubmit={async () => {
              await api.del(`${base}/proxycache`);
              await invalidate(key);
              alert('success', `Deleted the proxy cache configuration of ${org}`);
            }}
          >
            <p>Repositories already cached stay; nothing new is fetched from {cfg.upstream_registry}.</p>
          </FormModal>
        )}
      </>
    );
  }

  const body = () => ({
    org_name: org,
    upstream_registry: registry.trim(),
    ...(username ? { upstream_registry_username: username, upstream_registry_password: password } : {}),
    expiration_s: Number(expiration),
    insecure,
  });
  return (
    <Form
      style={{ maxWidth: '40rem' }}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        const ok = await run(`Saved the proxy cache configuration of ${org}`, async () => {
          await api.post(`${base}/validateproxycache`, body());
          await api.post(`${base}/proxycache`, body());
        });
        setBusy(false);
        if (ok) setPassword('');
      }}
    >
      <Title headingLevel="h3">Proxy Cache</Title>
      <p>Pulls from this organization fetch and cache images of the remote registry (e.g. docker.io or quay.io/namespace).</p>
      <FormGroup label="Remote Registry" fieldId="proxy-registry" isRequired>
        <TextInput id="proxy-registry" value={registry} onChange={(_e, v) => setRegistry(v)} placeholder="quay.io/namespace" isRequired />
      </FormGroup>
      <FormGroup label="Remote Registry username" fieldId="proxy-username">
        <TextInput id="proxy-username" value={username} onChange={(_e, v) => setUsername(v)} autoComplete="off" />
      </FormGroup>
      <FormGroup label="Remote Registry password" fieldId="proxy-password">
        <TextInput
          id="proxy-password"
          type="password"
          value={password}
          onChange={(_e, v) => setPassword(v)}
          autoComplete="new-password"
          validated={!!username !== !!password ? 'error' : 'default'}
        />
      </FormGroup>
      <FormGroup label="Expiration (seconds; 0: never)" fieldId="proxy-expiration">
        <TextInput id="proxy-expiration" value={expiration} onChange={(_e, v) => setExpiration(v)} validated={expirationValid ? 'default' : 'error'} inputMode="numeric" />
      </FormGroup>
      <Checkbox id="proxy-insecure" label="Insecure (plain HTTP, no TLS verification)" isChecked={insecure} onChange={(_e, v) => setInsecure(v)} />
      <ActionGroup>
        <Button type="submit" isDisabled={!valid || busy} isLoading={busy}>
          Save
        </Button>
      </ActionGroup>
    </Form>
  );
}
