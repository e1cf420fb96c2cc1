/**
 * The Builds tab's "Build triggers" (repository admins): the list with what each trigger builds and how it
 * tags, "Create Build Trigger" → "Custom Git Repository Push" (a wizard: repository URL, tagging, Dockerfile,
 * context, robot, review; Finish creates and activates the trigger and shows its deploy key and webhook URL),
 * and per trigger View Credentials, Run Trigger Now (a commit), Disable/Enable Trigger, Delete Trigger.
 */
import { useState } from 'react';
import {
  Alert,
  Button,
  Checkbox,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Dropdown,
  DropdownItem,
  DropdownList,
  Flex,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Label,
  List,
  ListItem,
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
import { api, enc, repoPath } from '../../api/client';
import { useInvalidate } from '../../api/hooks';
import { Copy, FormModal } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
import ListWithActions from '../../components/ListWithActions';
import { robotBase } from '../organization/types';
import type { Repository } from './types';

export interface Trigger {
  id: string;
  service: string;
  is_active: boolean;
  build_source: string | null;
  repository_url: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  pull_robot?: { name: string };
  config: {
    build_source?: string;
    dockerfile_path?: string;
    context?: string;
    branchtag_regex?: string;
    default_tag_from_ref?: boolean;
    latest_for_default_branch?: boolean;
    tag_templates?: string[];
    credentials?: { name: string; value: string }[];
  };
}

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
      {t.service === 'custom-git' ? 'push to git repository ' : `push to ${t.service} repository `}
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

function TaggingOptions({ config }: { config: Trigger['config'] }) {
  return (
    <List isPlain>
      {config.default_tag_from_ref !== false && <ListItem>Branch/tag name</ListItem>}
      {config.latest_for_default_branch !== false && (
        <ListItem>
          <code>latest</code> if default branch
        </ListItem>
      )}
      {(config.tag_templates ?? []).map((t) => (
        <ListItem key={t} className="quay-mono">
          {t}
        </ListItem>
      ))}
    </List>
  );
}

function Credentials({ t }: { t: Trigger }) {
  return (
    <>
      <Alert variant="info" isInline title="Note:" style={{ marginBottom: '1rem' }}>
        In order to use this trigger, the following first requires action:
        <List>
          <ListItem>You must give the following public key read access to the git repository.</ListItem>
          <ListItem>You must set your repository to POST to the following URL to trigger a build.</ListItem>
        </List>
      </Alert>
      {(t.config.credentials ?? []).map((c) => (
        <FormGroup key={c.name} label={c.name} fieldId={`cred-${c.name}`} style={{ marginBottom: '1rem' }}>
          <Copy label={c.name} value={c.value} multiline={c.value.length > 80} testId={`credential-${c.name}`} />
        </FormGroup>
      ))}
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

function validRegex(s: string): boolean {
  if (!s) return true;
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * The custom-git setup wizard. Finish creates the trigger and activates it with the config in one go, so an
 * abandoned wizard leaves nothing behind; a refused activation removes the inactive trigger again.
 */
function SetupWizard({ repo, onClose }: { repo: Repository; onClose: () => void }) {
  const base = `${repoPath(repo.namespace, repo.name)}/trigger/`;
  const invalidate = useInvalidate();
  const [s, setS] = useState<SetupState>(INITIAL);
  const set = (patch: Partial<SetupState>) => setS((old) => ({ ...old, ...patch }));
  const [template, setTemplate] = useState('');
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
  const addTemplate = () => {
    if (template && !s.templates.includes(template)) set({ templates: [...s.templates, template] });
    setTemplate('');
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
    <Modal variant="large" isOpen onClose={onClose} aria-label="Setup Build Trigger">
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
          <FormGroup fieldId="trigger-tagging" role="group" label="Confirm basic tagging options" style={{ marginTop: '1rem' }}>
            <Checkbox
              id="trigger-tag-from-ref"
              label="Tag manifest with the branch or tag name"
              description="Tags the built manifest the name of the branch or tag for the git commit."
              isChecked={s.tagFromRef}
              onChange={(_e, v) => set({ tagFromRef: v })}
            />
            <Checkbox
              id="trigger-latest"
              label="Add latest tag if on default branch"
              description="Tags the built manifest with latest if the build occurred on the default branch for the repository."
              isChecked={s.latest}
              onChange={(_e, v) => set({ latest: v })}
            />
          </FormGroup>
          <FormGroup label="Add custom tagging templates" fieldId="trigger-tag-template" style={{ marginTop: '1rem' }}>
            {s.templates.length === 0 ? (
              <p>No tag templates defined.</p>
            ) : (
              <List isPlain aria-label="Tag templates">
                {s.templates.map((t) => (
                  <ListItem key={t}>
                    <span className="quay-mono">{t}</span>{' '}
                    <Button variant="link" isInline onClick={() => set({ templates: s.templates.filter((x) => x !== t) })} aria-label={`Remove template ${t}`}>
                      Remove
                    </Button>
                  </ListItem>
                ))}
              </List>
            )}
            <Flex style={{ marginTop: 8 }}>
              <TextInput
                id="trigger-tag-template"
                aria-label="Enter a tag template"
                value={template}
                onChange={(_e, v) => setTemplate(v)}
                placeholder="${commit_info.short_sha}"
                style={{ width: '24rem' }}
              />
              <Button variant="secondary" onClick={addTemplate} isDisabled={!template}>
                Add template
              </Button>
            </Flex>
            <FormHelperText>
              <HelperText>
                <HelperTextItem>
                  For example <code>{'${commit_info.short_sha}'}</code> or <code>{'${parsed_ref.branch}'}</code>.
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <FormGroup label="Only build branches and tags matching (regular expression, optional)" fieldId="trigger-branchtag-regex" style={{ marginTop: '1rem' }}>
            <TextInput
              id="trigger-branchtag-regex"
              value={s.branchtagRegex}
              onChange={(_e, v) => set({ branchtagRegex: v })}
              placeholder="heads/main|tags/v.*"
              validated={validRegex(s.branchtagRegex) ? 'default' : 'error'}
            />
          </FormGroup>
          {!s.tagFromRef && s.templates.length === 0 && (
            <Alert variant="warning" isInline title="Tag with the branch or tag name, or add a tag template." style={{ marginTop: '1rem' }} />
          )}
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

/** Run Trigger Now: custom git builds the commit given; the SCM kinds also name the branch or tag. */
function RunTriggerModal({ repo, t, onClose }: { repo: Repository; t: Trigger; onClose: () => void }) {
  const alert = useAlert();
  const invalidate = useInvalidate();
  const [commit, setCommit] = useState('');
  const [ref, setRef] = useState('');
  const shaOk = /^[A-Fa-f0-9]{7,}$/.test(commit);
  return (
    <FormModal
      title="Manually Start Build Trigger"
      isOpen
      variant="medium"
      onClose={onClose}
      submitLabel="Start Build"
      submitDisabled={!shaOk}
      onSubmit={async () => {
        const body: Record<string, unknown> = { commit_sha: commit };
        if (t.service !== 'custom-git' && ref) body.branch_name = ref;
        const b = await api.post<{ id: string }>(`${repoPath(repo.namespace, repo.name)}/trigger/${enc(t.id)}/start`, body);
        alert('success', `Build started successfully with ID ${b.id}`);
        await invalidate(['builds', repo.namespace, repo.name]);
      }}
    >
      <p>
        <TriggerDescription t={t} />
      </p>
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
      {t.service !== 'custom-git' && (
        <FormGroup label="Branch" fieldId="trigger-run-branch">
          <TextInput id="trigger-run-branch" value={ref} onChange={(_e, v) => setRef(v)} />
        </FormGroup>
      )}
    </FormModal>
  );
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
    </section>
  );
}
