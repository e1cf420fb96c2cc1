/**
 * The Builds tab's "Build triggers" (repository admins): the list with what each trigger builds and how it
 * tags, "Create Build Trigger" → "Custom Git Repository Push" (a wizard: repository URL, tagging, Dockerfile,
 * context, robot, review; Finish creates and activates the trigger and shows its deploy key and webhook URL),
 * "GitHub/GitLab/Bitbucket Repository Push" (the service's OAuth authorize page, which returns to
 * `/repository/{ns}/{repo}/trigger/{uuid}` with a new inactive trigger whose wizard then opens), and per
 * trigger View Credentials, Run Trigger Now (a commit, or a branch/tag of the service), Disable/Enable
 * Trigger, Delete Trigger; an inactive trigger attached to a service offers Finish Setup.
 */
import { lazy, Suspense, useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import {
  Alert,
  Button,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Dropdown,
  DropdownItem,
  DropdownList,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  FormSelectOptionGroup,
  HelperText,
  HelperTextItem,
  Label,
  MenuToggle,
  Modal,
  ModalBody,
  ModalHeader,
  TextInput,
  Title,
  ToolbarItem,
  Wizard,
  WizardHeader,
  WizardStep,
} from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, ApiError, enc, repoPath } from '../../api/client';
import { useConfig, useInvalidate } from '../../api/hooks';
import { FormModal, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
import ListWithActions from '../../components/ListWithActions';
import { robotBase } from '../organization/types';
import { Credentials, SERVICE_TITLE, TaggingFields, TaggingOptions, validRegex, type Trigger } from './triggerParts';
import type { Repository } from './types';

const ScmTriggerWizard = lazy(() => import('./ScmTriggerWizard'));

export type { Trigger };

const DISABLED_REASON: Record<string, string> = {
  user_toggled: 'This build trigger is user disabled and will not build.',
  successive_build_failures: 'This build trigger was automatically disabled due to successive failures.',
  successive_build_internal_errors: 'This build trigger was automatically disabled due to successive internal errors.',
};

/** ssh://, git://, http(s):// URLs and scp-like `user@host:path`, one line, as Quay's setup accepts. */
const GIT_URL = /^((ssh|git|https?):\/\/[^\s]+|[\w.-]+@[\w.-]+:[^\s]+)$/;
/** An absolute path inside the checkout. */
const IN_TREE_PATH = /^\/[^\0\r\n]*$/;
const validPath = (p: string) => IN_TREE_PATH.test(p) && !p.split('/').includes('..');

function TriggerDescription({ t }: { t: Trigger }) {
  const source = t.config.build_source ?? t.build_source;
  return (
    <>
      {t.service === 'custom-git' ? 'push to git repository ' : `push to ${SERVICE_TITLE[t.service] ?? t.service} repository `}
      <span className="quay-mono">{source ?? '(not set up)'}</span>
      {!t.is_active && (
        <Label color="orange" style={{ marginLeft: 8 }}>
          setup not finished
        </Label>
      )}
      {t.is_active && !t.enabled && (
        <div className="pf-v6-u-color-200" data-testid="trigger-disabled">
          {DISABLED_REASON[t.disabled_reason ?? ''] ?? 'This build trigger is disabled and will not build.'}
        </div>
      )}
    </>
  );
}

interface SetupState {
  url: string;
  tagFromRef: boolean;
  latest: boolean;
  templates: string[];
  branchtagRegex: string;
  dockerfile: string;
  context: string;
  robot: string;
}

const INITIAL: SetupState = { url: '', tagFromRef: true, latest: true, templates: [], branchtagRegex: '', dockerfile: '/Dockerfile', context: '/', robot: '' };

/**
 * The custom-git setup wizard. Finish creates the trigger and activates it with the config in one go, so an
 * abandoned wizard leaves nothing behind; a refused activation removes the inactive trigger again.
 */
function SetupWizard({ repo, onClose }: { repo: Repository; onClose: () => void }) {
  const base = `${repoPath(repo.namespace, repo.name)}/trigger/`;
  const invalidate = useInvalidate();
  const [s, setS] = useState<SetupState>(INITIAL);
  const set = (patch: Partial<SetupState>) => setS((old) => ({ ...old, ...patch }));
  const [error, setError] = useState<string | null>(null);
  const [activated, setActivated] = useState<Trigger | null>(null);
  const robots = useQuery({
    queryKey: ['robots', repo.namespace, 'names'],
    queryFn: () => api.get<{ robots: { name: string }[] }>(`${robotBase(repo.namespace, !repo.is_organization)}?permissions=false&token=false`),
    select: (d) => d.robots.map((r) => r.name),
  });
  const urlOk = GIT_URL.test(s.url.trim()) && !s.url.trim().startsWith('-');
  const taggingOk = (s.tagFromRef || s.templates.length > 0) && validRegex(s.branchtagRegex);
  const finish = async () => {
    setError(null);
    const config: Record<string, unknown> = {
      build_source: s.url.trim(),
      dockerfile_path: s.dockerfile,
      context: s.context,
      default_tag_from_ref: s.tagFromRef,
      latest_for_default_branch: s.latest,
      tag_templates: s.templates,
    };
    if (s.branchtagRegex) config.branchtag_regex = s.branchtagRegex;
    try {
      const created = await api.post<Trigger>(base, { service: 'custom-git' });
      try {
        setActivated(await api.post<Trigger>(`${base}${enc(created.id)}/activate`, { config, ...(s.robot ? { pull_robot: s.robot } : {}) }));
      } catch (e) {
        await api.del(`${base}${enc(created.id)}`).catch(() => undefined);
        throw e;
      }
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      await invalidate(['triggers', repo.namespace, repo.name]);
    }
  };
  /** The Dockerfile and context steps: one absolute path inside the checkout each. */
  const pathStep = (name: string, field: 'dockerfile' | 'context', label: string, help: string) => (
    <WizardStep name={name} id={`select-${field}`} key={field} footer={{ isNextDisabled: !validPath(s[field]) }}>
      <Title headingLevel="h2">{name}</Title>
      <FormGroup label={label} fieldId={`trigger-${field}`} isRequired style={{ marginTop: '1rem' }}>
        <TextInput id={`trigger-${field}`} value={s[field]} onChange={(_e, v) => set({ [field]: v })} validated={validPath(s[field]) ? 'default' : 'error'} />
        <FormHelperText>
          <HelperText>
            <HelperTextItem>{help}</HelperTextItem>
          </HelperText>
        </FormHelperText>
      </FormGroup>
    </WizardStep>
  );
  if (activated) {
    return (
      <Modal variant="medium" isOpen onClose={onClose} aria-labelledby="trigger-activated-title">
        <ModalHeader title="Trigger has been successfully activated" labelId="trigger-activated-title" />
        <ModalBody>
          <Credentials t={activated} />
          <Button onClick={onClose}>Done</Button>
        </ModalBody>
      </Modal>
    );
  }
  return (
    <Modal variant="large" isOpen onEscapePress={onClose} aria-label="Setup Build Trigger">
      <Wizard
        height={560}
        onClose={onClose}
        header={<WizardHeader title="Setup Build Trigger: Custom Git Repository Push" onClose={onClose} closeButtonAriaLabel="Close wizard" />}
      >
        <WizardStep name="Enter Repository" id="enter-repository" footer={{ isNextDisabled: !urlOk }}>
          <Title headingLevel="h2">Enter repository</Title>
          <p>Enter the URL of the git repository to clone. The trigger gets an SSH deploy key to read it with.</p>
          <FormGroup label="Repository URL" fieldId="trigger-repository-url" isRequired style={{ marginTop: '1rem' }}>
            <TextInput id="trigger-repository-url" value={s.url} onChange={(_e, v) => set({ url: v })} placeholder="git@example.com:org/repo.git" />
            <FormHelperText>
              <HelperText>
                <HelperTextItem variant={s.url && !urlOk ? 'error' : 'default'}>
                  {s.url && !urlOk ? 'Please enter a valid git repository URL' : 'ssh://, git://, https:// or user@host:path'}
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
        </WizardStep>
        <WizardStep name="Tagging Options" id="tagging-options" footer={{ isNextDisabled: !taggingOk }}>
          <Title headingLevel="h2">Configure tagging</Title>
          <TaggingFields value={s} onChange={set} />
          <FormGroup label="Only build branches and tags matching (regular expression, optional)" fieldId="trigger-branchtag-regex" style={{ marginTop: '1rem' }}>
            <TextInput
              id="trigger-branchtag-regex"
              value={s.branchtagRegex}
              onChange={(_e, v) => set({ branchtagRegex: v })}
              placeholder="heads/main|tags/v.*"
              validated={validRegex(s.branchtagRegex) ? 'default' : 'error'}
            />
          </FormGroup>
        </WizardStep>
        {pathStep('Select Dockerfile', 'dockerfile', 'Dockerfile path', 'The path of the Dockerfile in the repository, starting with /.')}
        {pathStep('Select Context', 'context', 'Context path', 'The directory sent to the build as its context, starting with /.')}
        <WizardStep name="Robot Accounts" id="robot-accounts">
          <Title headingLevel="h2">Robot account</Title>
          <p>A robot account whose credentials the build uses to pull private base images (optional).</p>
          <FormGroup label="Pull robot" fieldId="trigger-robot" style={{ marginTop: '1rem' }}>
            <FormSelect id="trigger-robot" value={s.robot} onChange={(_e, v) => set({ robot: v })}>
              <FormSelectOption value="" label="(None)" />
              {(robots.data ?? []).map((r) => (
                <FormSelectOption key={r} value={r} label={r} />
              ))}
            </FormSelect>
          </FormGroup>
        </WizardStep>
        <WizardStep name="Review and Finish" id="review-and-finish" footer={{ nextButtonText: 'Finish', onNext: finish }}>
          <Title headingLevel="h2">Review and finish</Title>
          {error && <Alert variant="danger" isInline title={error} data-testid="modal-error" style={{ margin: '1rem 0' }} />}
          <DescriptionList isHorizontal isCompact style={{ marginTop: '1rem' }}>
            <DescriptionListGroup>
              <DescriptionListTerm>Repository URL</DescriptionListTerm>
              <DescriptionListDescription className="quay-mono">{s.url}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Tagging Options</DescriptionListTerm>
              <DescriptionListDescription>
                <TaggingOptions config={{ default_tag_from_ref: s.tagFromRef, latest_for_default_branch: s.latest, tag_templates: s.templates }} />
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Branches/Tags</DescriptionListTerm>
              <DescriptionListDescription>{s.branchtagRegex || 'All'}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Dockerfile Location</DescriptionListTerm>
              <DescriptionListDescription>{s.dockerfile}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Context Location</DescriptionListTerm>
              <DescriptionListDescription>{s.context}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Pull Robot</DescriptionListTerm>
              <DescriptionListDescription>{s.robot || '(None)'}</DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
        </WizardStep>
      </Wizard>
    </Modal>
  );
}

interface SourceRef {
  kind: 'branch' | 'tag';
  name: string;
}

/**
 * Run Trigger Now. A trigger attached to GitHub or GitLab builds a branch or tag the service lists
 * (`fields/refs`); custom git, and a service trigger set up without the service's API (no `fields`: 404),
 * build the commit given.
 */
function RunTriggerModal({ repo, t, onClose }: { repo: Repository; t: Trigger; onClose: () => void }) {
  const alert = useAlert();
  const invalidate = useInvalidate();
  const base = `${repoPath(repo.namespace, repo.name)}/trigger/${enc(t.id)}`;
  const refs = useQuery({
    queryKey: ['trigger-refs', repo.namespace, repo.name, t.id],
    queryFn: () => api.post<{ values: SourceRef[] }>(`${base}/fields/refs`, { build_source: t.config.build_source }),
    select: (d) => d.values,
    enabled: t.service !== 'custom-git',
    retry: false,
  });
  const byCommit = t.service === 'custom-git' || (refs.error instanceof ApiError && refs.error.status === 404);
  const [commit, setCommit] = useState('');
  const [ref, setRef] = useState('');
  const shaOk = /^[A-Fa-f0-9]{7,}$/.test(commit);
  const chosen = (refs.data ?? []).find((r) => `${r.kind}/${r.name}` === ref);
  const groups: [string, SourceRef[]][] = [
    ['Branches', (refs.data ?? []).filter((r) => r.kind === 'branch')],
    ['Tags', (refs.data ?? []).filter((r) => r.kind === 'tag')],
  ];
  return (
    <FormModal
      title="Manually Start Build Trigger"
      isOpen
      variant="medium"
      onClose={onClose}
      submitLabel="Start Build"
      submitDisabled={byCommit ? !shaOk : !chosen}
      onSubmit={async () => {
        const body = byCommit ? { commit_sha: commit } : { refs: chosen };
        const b = await api.post<{ id: string }>(`${base}/start`, body);
        alert('success', `Build started successfully with ID ${b.id}`);
        await invalidate(['builds', repo.namespace, repo.name]);
      }}
    >
      <p>
        <TriggerDescription t={t} />
      </p>
      {byCommit ? (
        <FormGroup label="Commit" fieldId="trigger-run-commit" isRequired>
          <TextInput id="trigger-run-commit" value={commit} onChange={(_e, v) => setCommit(v.trim())} placeholder="1c002dd" validated={commit && !shaOk ? 'error' : 'default'} />
          {commit && !shaOk && (
            <FormHelperText>
              <HelperText>
                <HelperTextItem variant="error">Invalid commit pattern</HelperTextItem>
              </HelperText>
            </FormHelperText>
          )}
        </FormGroup>
      ) : refs.isLoading ? (
        <Loading label="Loading branches and tags" />
      ) : refs.error ? (
        <Alert variant="danger" isInline title={errorMessage(refs.error)} />
      ) : (
        <FormGroup label="Branch/Tag" fieldId="trigger-run-ref" isRequired>
          <FormSelect id="trigger-run-ref" value={ref} onChange={(_e, v) => setRef(v)}>
            <FormSelectOption value="" label="Choose a branch or tag" isPlaceholder />
            {groups.map(([label, items]) =>
              items.length ? (
                <FormSelectOptionGroup key={label} label={label}>
                  {items.map((r) => (
                    <FormSelectOption key={`${r.kind}/${r.name}`} value={`${r.kind}/${r.name}`} label={r.name} />
                  ))}
                </FormSelectOptionGroup>
              ) : null,
            )}
          </FormSelect>
        </FormGroup>
      )}
    </FormModal>
  );
}

/** The service's OAuth authorize page for attaching a new trigger of this repository (Quay's redirect URLs). */
function authorizeUrl(service: 'github' | 'gitlab', oauth: Record<string, string>, serverBase: string, repo: Repository): string {
  const u = new URL(oauth.AUTHORIZE_ENDPOINT);
  u.searchParams.set('client_id', oauth.CLIENT_ID);
  if (service === 'github') {
    u.searchParams.set('redirect_uri', `${serverBase}/oauth2/github/callback/trigger/${repo.namespace}/${repo.name}`);
    u.searchParams.set('scope', 'repo,user:email');
  } else {
    u.searchParams.set('redirect_uri', `${serverBase}/oauth2/gitlab/callback/trigger`);
    u.searchParams.set('scope', 'api write_repository openid');
    u.searchParams.set('response_type', 'code');
    u.searchParams.set('state', `repo:${repo.namespace}/${repo.name}`);
  }
  return u.toString();
}

export default function BuildTriggers({ repo }: { repo: Repository }) {
  const base = `${repoPath(repo.namespace, repo.name)}/trigger/`;
  const key = ['triggers', repo.namespace, repo.name];
  const q = useQuery({ queryKey: key, queryFn: () => api.get<{ triggers: Trigger[] }>(base), select: (d) => d.triggers });
  const [menuOpen, setMenuOpen] = useState(false);
  const [settingUp, setSettingUp] = useState(false);
  const [viewing, setViewing] = useState<Trigger | null>(null);
  const [running, setRunning] = useState<Trigger | null>(null);
  const url = (t: Trigger) => `${base}${enc(t.id)}`;
  const { data: cfg } = useConfig();
  const oauth = cfg?.oauth ?? {};
  const serverBase = `${String(cfg?.config.PREFERRED_URL_SCHEME ?? window.location.protocol.replace(':', ''))}://${String(cfg?.config.SERVER_HOSTNAME || window.location.host)}`;
  const oauthServices = (['github', 'gitlab'] as const).filter((sv) => cfg?.features[`${sv.toUpperCase()}_BUILD`] && oauth[`${sv.toUpperCase()}_TRIGGER_CONFIG`]);
  // Bitbucket's setup starts at the registry (it creates the trigger, then sends the browser to Bitbucket).
  const bitbucket = !!cfg?.features.BITBUCKET_BUILD;
  const services: string[] = [...oauthServices, ...(bitbucket ? ['bitbucket'] : [])];
  const attachable = (t: Trigger) => !t.is_active && services.includes(t.service);
  // The OAuth callback sends the browser to …/trigger/{uuid}, which lands here with ?setupTrigger={uuid}.
  const [params, setParams] = useSearchParams();
  const setupId = params.get('setupTrigger');
  // Held once opened: activation makes the trigger active (no longer attachable) while the wizard shows the
  // result. The URL opens it once; closing it must not reopen it before the parameter is gone.
  const [settingUpScm, setSettingUpScm] = useState<Trigger | null>(null);
  const openedFor = useRef<string | null>(null);
  const toSetUp = q.data?.find((t) => t.id === setupId && attachable(t));
  useEffect(() => {
    if (!setupId) openedFor.current = null;
    else if (toSetUp && openedFor.current !== setupId) {
      openedFor.current = setupId;
      setSettingUpScm(toSetUp);
    }
  }, [setupId, toSetUp]);
  const closeScmSetup = () => {
    setSettingUpScm(null);
    if (setupId) {
      setParams(
        (p) => {
          p.delete('setupTrigger');
          return p;
        },
        { replace: true },
      );
    }
  };
  return (
    <section style={{ marginTop: '2rem' }} aria-labelledby="build-triggers-title">
      <Title headingLevel="h2" id="build-triggers-title">
        Build triggers
      </Title>
      <ListWithActions<Trigger>
        label="Repository build triggers"
        query={q}
        rowKey={(t) => t.id}
        rowTestId="trigger-entry"
        columns={[
          { title: 'Trigger Name', cell: (t) => <TriggerDescription t={t} /> },
          { title: 'Dockerfile Location', cell: (t) => t.config.dockerfile_path || '/Dockerfile' },
          { title: 'Context Location', cell: (t) => t.config.context || '/' },
          { title: 'Branches/Tags', cell: (t) => t.config.branchtag_regex || 'All' },
          { title: 'Pull Robot', cell: (t) => t.pull_robot?.name ?? '(None)' },
          { title: 'Tagging Options', cell: (t) => (t.is_active ? <TaggingOptions config={t.config} /> : '—') },
        ]}
        actions={(t) => [
          ...(attachable(t) ? [{ title: 'Finish Setup', open: setSettingUpScm }] : []),
          ...(t.is_active
            ? [
                { title: 'View Credentials', open: setViewing },
                ...(t.enabled ? [{ title: 'Run Trigger Now', open: setRunning }] : []),
                t.enabled
                  ? {
                      title: 'Disable Trigger',
                      confirm: () => 'Are you sure you want to disable this build trigger? Pushes to its repository will not start builds until it is enabled again.',
                      run: (x: Trigger) => api.put(url(x), { enabled: false }),
                      done: () => 'Build trigger disabled',
                    }
                  : { title: 'Enable Trigger', run: (x: Trigger) => api.put(url(x), { enabled: true }), done: () => 'Build trigger enabled' },
              ]
            : []),
          {
            title: 'Delete Trigger',
            confirm: () => 'Are you sure you want to delete this build trigger? No further builds will be automatically started.',
            run: (x: Trigger) => api.del(url(x)),
            done: () => 'Build trigger deleted',
          },
        ]}
        toolbar={
          <ToolbarItem>
            <Dropdown
              isOpen={menuOpen}
              onOpenChange={setMenuOpen}
              onSelect={() => setMenuOpen(false)}
              toggle={(ref) => (
                <MenuToggle ref={ref} variant="primary" onClick={() => setMenuOpen(!menuOpen)} isExpanded={menuOpen} data-testid="create-trigger-dropdown">
                  Create Build Trigger
                </MenuToggle>
              )}
            >
              <DropdownList>
                {oauthServices.map((sv) => (
                  <DropdownItem key={sv} to={authorizeUrl(sv, oauth[`${sv.toUpperCase()}_TRIGGER_CONFIG`], serverBase, repo)}>
                    {SERVICE_TITLE[sv]} Repository Push
                  </DropdownItem>
                ))}
                {bitbucket && <DropdownItem to={`/bitbucket/setup/${repo.namespace}/${repo.name}`}>Bitbucket Repository Push</DropdownItem>}
                <DropdownItem onClick={() => setSettingUp(true)}>Custom Git Repository Push</DropdownItem>
              </DropdownList>
            </Dropdown>
          </ToolbarItem>
        }
        empty={{
          title: 'No build triggers defined',
          body: 'Build triggers invoke builds whenever the triggered condition is met (source control push, webhook, etc).',
        }}
        invalidates={[key]}
      />
      {settingUp && <SetupWizard repo={repo} onClose={() => setSettingUp(false)} />}
      {viewing && (
        <Modal variant="medium" isOpen onClose={() => setViewing(null)} aria-labelledby="trigger-credentials-title">
          <ModalHeader title="Trigger Credentials" labelId="trigger-credentials-title" />
          <ModalBody>
            <Credentials t={viewing} />
          </ModalBody>
        </Modal>
      )}
      {running && <RunTriggerModal repo={repo} t={running} onClose={() => setRunning(null)} />}
      {settingUpScm && (
        <Suspense fallback={<Loading />}>
          <ScmTriggerWizard repo={repo} trigger={settingUpScm} onClose={closeScmSetup} />
        </Suspense>
      )}
    </section>
  );
}
