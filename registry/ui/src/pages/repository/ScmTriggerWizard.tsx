/**
 * The setup wizard of a trigger attached to GitHub or GitLab (the OAuth callback created it, inactive), as
 * chapters 6-11 of the user guide walk it: Select Organization (`namespaces`) → Select Repository (`sources`)
 * → Configure Trigger (all branches and tags, or a regular expression shown against the repository's refs,
 * `fields/refs`) → Tagging Options → Select Dockerfile (`subdir`) → Select Context (the Dockerfile's context
 * map) → Robot Accounts (`analyze`: required when the Dockerfile's base is a private repository here; a robot
 * that cannot read it gets read permission on Finish, as Quay's setup does) → Review and Finish (`activate`,
 * which installs the deploy key and the push hook at the service). Loaded only when a trigger is set up.
 */
import { useState } from 'react';
import {
  Alert,
  Button,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Label,
  List,
  ListItem,
  Modal,
  ModalBody,
  ModalHeader,
  Radio,
  SearchInput,
  TextInput,
  Title,
  Wizard,
  WizardHeader,
  WizardStep,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import { dateTime } from '../../api/format';
import { useInvalidate } from '../../api/hooks';
import { errorMessage } from '../../components/alerts';
import { ErrorState, Loading } from '../../components/common';
import { Credentials, SERVICE_TITLE, TaggingFields, TaggingOptions, validRegex, type Tagging, type Trigger } from './triggerParts';
import type { Repository } from './types';

interface GitNamespace {
  id: string;
  title: string;
  personal: boolean;
  avatar_url: string | null;
}

interface Source {
  name: string;
  full_name: string;
  description: string | null;
  last_updated: number | null;
  private: boolean;
  has_admin_permissions: boolean;
}

interface Subdirs {
  status: 'success' | 'error';
  message?: string;
  dockerfile_paths?: string[];
  contextMap?: Record<string, string[]>;
}

interface Analysis {
  status: 'publicbase' | 'requiresrobot' | 'warning' | 'error' | 'notimplemented';
  message?: string | null;
  namespace?: string;
  name?: string | null;
  is_admin?: boolean;
  robots?: { name: string; can_read: boolean }[];
}

interface State extends Tagging {
  namespace: GitNamespace | null;
  source: string;
  hasFilter: boolean;
  regex: string;
  dockerfile: string;
  context: string;
  robot: string;
}

const INITIAL: State = { namespace: null, source: '', hasFilter: false, regex: '', tagFromRef: true, latest: true, templates: [], dockerfile: '', context: '', robot: '' };

/** A regular expression matched as the server matches `branchtag_regex`: against the whole `heads/…`/`tags/…`. */
function fullMatch(regex: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${regex})$`).test(value);
  } catch {
    return false;
  }
}

type Props = { repo: Repository; trigger: Trigger; onClose: () => void };

export default function ScmTriggerWizard({ repo, trigger, onClose }: Props) {
  const base = `${repoPath(repo.namespace, repo.name)}/trigger/${enc(trigger.id)}`;
  const key = (...k: unknown[]) => ['trigger-setup', repo.namespace, repo.name, trigger.id, ...k];
  const service = SERVICE_TITLE[trigger.service] ?? trigger.service;
  const invalidate = useInvalidate();
  const [s, setS] = useState<State>(INITIAL);
  const set = (patch: Partial<State>) => setS((old) => ({ ...old, ...patch }));
  const [nsFilter, setNsFilter] = useState('');
  const [srcFilter, setSrcFilter] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [activated, setActivated] = useState<Trigger | null>(null);

  const namespaces = useQuery({ queryKey: key('namespaces'), queryFn: () => api.get<{ namespaces: GitNamespace[] }>(`${base}/namespaces`), select: (d) => d.namespaces });
  const sources = useQuery({
    queryKey: key('sources', s.namespace?.id),
    queryFn: () => api.post<{ sources: Source[] }>(`${base}/sources`, { namespace: s.namespace!.id }),
    select: (d) => d.sources,
    enabled: !!s.namespace,
  });
  // Each service call is made when its step needs it (refs for the filter preview, Dockerfiles from their step
  // on), one at a time: a Bitbucket account's token may be refreshed on each call.
  const [step, setStep] = useState('select-organization');
  const atOrAfterDockerfile = ['select-dockerfile', 'select-context', 'robot-accounts', 'review-and-finish'].includes(step);
  const refs = useQuery({
    queryKey: key('refs', s.source),
    queryFn: () => api.post<{ values: { kind: string; name: string }[] }>(`${base}/fields/refs`, { build_source: s.source }),
    select: (d) => d.values.map((r) => `${r.kind === 'tag' ? 'tags' : 'heads'}/${r.name}`),
    enabled: !!s.source && s.hasFilter && step === 'configure-trigger',
  });
  const subdirs = useQuery({
    queryKey: key('subdir', s.source),
    queryFn: () => api.post<Subdirs>(`${base}/subdir`, { build_source: s.source }),
    enabled: !!s.source && atOrAfterDockerfile,
  });
  const analysisConfig = { build_source: s.source, dockerfile_path: s.dockerfile, context: s.context };
  const analysis = useQuery({
    queryKey: key('analyze', analysisConfig),
    queryFn: () => api.post<Analysis>(`${base}/analyze`, { config: analysisConfig }),
    enabled: !!(s.source && s.dockerfile && s.context),
  });

  const dockerfiles = subdirs.data?.dockerfile_paths ?? [];
  const contexts = subdirs.data?.contextMap?.[s.dockerfile] ?? [];
  const a = analysis.data;
  const robots = a?.robots ?? [];
  const chosenRobot = robots.find((r) => r.name === s.robot);
  const filterOk = !s.hasFilter || (!!s.regex && validRegex(s.regex));
  const robotOk = !!a && a.status !== 'error' && (a.status !== 'requiresrobot' || !!chosenRobot);

  const finish = async () => {
    setError(null);
    const config: Record<string, unknown> = {
      build_source: s.source,
      dockerfile_path: s.dockerfile,
      context: s.context,
      default_tag_from_ref: s.tagFromRef,
      latest_for_default_branch: s.latest,
      tag_templates: s.templates,
    };
    if (s.hasFilter) config.branchtag_regex = s.regex;
    try {
      // The base image's repository: a robot chosen without read access gets it, as Quay's setup grants it.
      if (a?.status === 'requiresrobot' && chosenRobot && !chosenRobot.can_read && a.namespace && a.name) {
        await api.put(`${repoPath(a.namespace, a.name)}/permissions/user/${enc(chosenRobot.name)}`, { role: 'read' });
      }
      setActivated(await api.post<Trigger>(`${base}/activate`, { config, ...(s.robot ? { pull_robot: s.robot } : {}) }));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      await invalidate(['triggers', repo.namespace, repo.name]);
    }
  };

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

  const shownNamespaces = (namespaces.data ?? []).filter((n) => `${n.id} ${n.title}`.toLowerCase().includes(nsFilter.toLowerCase()));
  const shownSources = (sources.data ?? []).filter((x) => x.full_name.toLowerCase().includes(srcFilter.toLowerCase()));
  const matching = s.hasFilter && s.regex && validRegex(s.regex) ? (refs.data ?? []).filter((r) => fullMatch(s.regex, r)) : [];

  return (
    <Modal variant="large" isOpen onEscapePress={onClose} aria-label="Setup Build Trigger">
      <Wizard
        height={600}
        onClose={onClose}
        isVisitRequired
        onStepChange={(_e, current) => setStep(String(current.id))}
        header={<WizardHeader title={`Setup Build Trigger: ${service} Repository Push`} onClose={onClose} closeButtonAriaLabel="Close wizard" />}
      >
        <WizardStep name="Select Organization" id="select-organization" footer={{ isNextDisabled: !s.namespace }}>
          <Title headingLevel="h2">Select {service} organization</Title>
          <p>Select the organization or account under which the repository lives.</p>
          <SearchInput aria-label="Filter organizations" placeholder="Filter organizations" value={nsFilter} onChange={(_e, v) => setNsFilter(v)} style={{ margin: '1rem 0' }} />
          {namespaces.isLoading ? (
            <Loading />
          ) : namespaces.error ? (
            <ErrorState error={namespaces.error} title={`Unable to list the ${service} organizations`} />
          ) : (
            <Table aria-label={`${service} organizations`} variant="compact">
              <Thead>
                <Tr>
                  <Th screenReaderText="Select" />
                  <Th>Organization</Th>
                  <Th>Kind</Th>
                </Tr>
              </Thead>
              <Tbody>
                {shownNamespaces.map((n, i) => (
                  <Tr key={n.id} data-testid="scm-namespace">
                    <Td
                      select={{
                        rowIndex: i,
                        variant: 'radio',
                        isSelected: s.namespace?.id === n.id,
                        onSelect: () => set({ namespace: n, source: '', dockerfile: '', context: '', robot: '' }),
                      }}
                      aria-label={`Select ${n.title}`}
                    />
                    <Td>{n.title}</Td>
                    <Td>{n.personal ? <Label>personal</Label> : <Label color="blue">organization</Label>}</Td>
                  </Tr>
                ))}
              </Tbody>
            </Table>
          )}
        </WizardStep>

        <WizardStep name="Select Repository" id="select-repository" footer={{ isNextDisabled: !s.source }}>
          <Title headingLevel="h2">Select repository</Title>
          <p>Select a repository in {s.namespace?.title}. You need admin access to it: the trigger adds a deploy key and a push hook there.</p>
          <SearchInput aria-label="Filter repositories" placeholder="Filter repositories" value={srcFilter} onChange={(_e, v) => setSrcFilter(v)} style={{ margin: '1rem 0' }} />
          {sources.isLoading ? (
            <Loading />
          ) : sources.error ? (
            <ErrorState error={sources.error} title={`Unable to list the ${service} repositories`} />
          ) : shownSources.length === 0 ? (
            <p>No repositories found.</p>
          ) : (
            <Table aria-label={`${service} repositories`} variant="compact">
              <Thead>
                <Tr>
                  <Th screenReaderText="Select" />
                  <Th>Repository</Th>
                  <Th>Last updated</Th>
                  <Th>Description</Th>
                </Tr>
              </Thead>
              <Tbody>
                {shownSources.map((x, i) => (
                  <Tr key={x.full_name} data-testid="scm-source">
                    <Td
                      select={{
                        rowIndex: i,
                        variant: 'radio',
                        isSelected: s.source === x.full_name,
                        isDisabled: !x.has_admin_permissions,
                        onSelect: () => set({ source: x.full_name, dockerfile: '', context: '', robot: '' }),
                      }}
                      aria-label={`Select ${x.full_name}`}
                    />
                    <Td>
                      {x.full_name} {x.private && <Label color="orange">private</Label>}
                      {!x.has_admin_permissions && <div className="pf-v6-u-color-200">Admin access is required to add a trigger.</div>}
                    </Td>
                    <Td>{x.last_updated ? dateTime(x.last_updated * 1000) : '—'}</Td>
                    <Td>{x.description ?? ''}</Td>
                  </Tr>
                ))}
              </Tbody>
            </Table>
          )}
        </WizardStep>

        <WizardStep name="Configure Trigger" id="configure-trigger" footer={{ isNextDisabled: !filterOk }}>
          <Title headingLevel="h2">Configure trigger options for {s.source}</Title>
          <FormGroup role="radiogroup" fieldId="trigger-filter" label="Branches and tags" isStack style={{ marginTop: '1rem' }}>
            <Radio
              id="trigger-all-refs"
              name="trigger-filter"
              label="Trigger for all branches and tags (default)"
              description="Build a container image for each commit across all branches and tags"
              isChecked={!s.hasFilter}
              onChange={() => set({ hasFilter: false })}
            />
            <Radio
              id="trigger-matching-refs"
              name="trigger-filter"
              label="Trigger only on branches and tags matching a regular expression"
              description="Only build container images for a subset of branches and/or tags"
              isChecked={s.hasFilter}
              onChange={() => set({ hasFilter: true })}
            />
          </FormGroup>
          {s.hasFilter && (
            <FormGroup label="Branch/tag regular expression" fieldId="trigger-branchtag-regex" isRequired style={{ marginTop: '1rem' }}>
              <TextInput
                id="trigger-branchtag-regex"
                value={s.regex}
                onChange={(_e, v) => set({ regex: v })}
                placeholder="heads/main|tags/v.+"
                validated={validRegex(s.regex) ? 'default' : 'error'}
              />
              <FormHelperText>
                <HelperText>
                  <HelperTextItem variant={validRegex(s.regex) ? 'default' : 'error'}>
                    {validRegex(s.regex) ? 'Examples: heads/master, tags/tagname, heads/.+' : 'Invalid regular expression'}
                  </HelperTextItem>
                </HelperText>
              </FormHelperText>
              {s.regex && validRegex(s.regex) && (
                <div style={{ marginTop: '0.5rem' }}>
                  <strong>Matching branches and tags:</strong>
                  {refs.isLoading ? (
                    <Loading />
                  ) : matching.length === 0 ? (
                    <p data-testid="matching-refs">None</p>
                  ) : (
                    <List isPlain data-testid="matching-refs">
                      {matching.map((r) => (
                        <ListItem key={r} className="quay-mono">
                          {r}
                        </ListItem>
                      ))}
                    </List>
                  )}
                </div>
              )}
            </FormGroup>
          )}
          <p style={{ marginTop: '1rem' }}>
            Do you want to build a new container image for commits across all branches and tags, or limit to a subset? For example, if you use release branches instead of{' '}
            <code>master</code> for building versions of your software, you can configure the trigger to only build images for these branches.
          </p>
        </WizardStep>

        <WizardStep name="Tagging Options" id="tagging-options" footer={{ isNextDisabled: !s.tagFromRef && s.templates.length === 0 }}>
          <Title headingLevel="h2">Configure tagging</Title>
          <TaggingFields value={s} onChange={set} />
        </WizardStep>

        <WizardStep name="Select Dockerfile" id="select-dockerfile" footer={{ isNextDisabled: !s.dockerfile }}>
          <Title headingLevel="h2">Select Dockerfile</Title>
          <p>Select the Dockerfile in {s.source} that builds the image.</p>
          {subdirs.isLoading ? (
            <Loading />
          ) : subdirs.error ? (
            <ErrorState error={subdirs.error} />
          ) : subdirs.data?.status === 'error' ? (
            <Alert variant="danger" isInline title={subdirs.data.message ?? 'Unable to list the Dockerfiles'} />
          ) : dockerfiles.length === 0 ? (
            <Alert variant="warning" isInline title={`No Dockerfile was found in ${s.source}.`} />
          ) : (
            <FormGroup label="Dockerfile path" fieldId="trigger-dockerfile" isRequired style={{ marginTop: '1rem' }}>
              <FormSelect id="trigger-dockerfile" value={s.dockerfile} onChange={(_e, v) => set({ dockerfile: v, context: subdirs.data?.contextMap?.[v]?.[0] ?? '', robot: '' })}>
                <FormSelectOption value="" label="Choose a Dockerfile" isPlaceholder />
                {dockerfiles.map((p) => (
                  <FormSelectOption key={p} value={p} label={p} />
                ))}
              </FormSelect>
            </FormGroup>
          )}
        </WizardStep>

        <WizardStep name="Select Context" id="select-context" footer={{ isNextDisabled: !s.context }}>
          <Title headingLevel="h2">Select context</Title>
          <p>The directory sent to the build as its context: the Dockerfile's directory or one above it.</p>
          <FormGroup label="Context path" fieldId="trigger-context" isRequired style={{ marginTop: '1rem' }}>
            <FormSelect id="trigger-context" value={s.context} onChange={(_e, v) => set({ context: v, robot: '' })}>
              {contexts.map((p) => (
                <FormSelectOption key={p} value={p} label={p} />
              ))}
            </FormSelect>
          </FormGroup>
        </WizardStep>

        <WizardStep name="Robot Accounts" id="robot-accounts" footer={{ isNextDisabled: !robotOk }}>
          {analysis.isLoading ? (
            <Loading label="Analyzing the Dockerfile" />
          ) : analysis.error ? (
            <ErrorState error={analysis.error} />
          ) : a?.status === 'error' ? (
            <Alert variant="danger" isInline title={a.message ?? 'The Dockerfile cannot be analyzed'} data-testid="analysis-error" />
          ) : (
            <>
              {a?.status === 'warning' && <Alert variant="warning" isInline title={a.message ?? ''} style={{ marginBottom: '1rem' }} />}
              {a?.status === 'requiresrobot' ? (
                <>
                  <Title headingLevel="h2">Robot Account Required</Title>
                  <p>
                    The selected Dockerfile depends upon the private base image <span className="quay-mono">{`${a.namespace}/${a.name}`}</span>. A robot account with access to it
                    is required to set up this trigger. Robots that cannot read it yet get read permission when you finish.
                  </p>
                </>
              ) : (
                <>
                  <Title headingLevel="h2">Optional Robot Account</Title>
                  <p>Choose an optional robot account whose credentials the build uses to pull private base images, or continue without one.</p>
                </>
              )}
              <Button variant="link" isInline onClick={() => set({ robot: '' })} isDisabled={!s.robot} style={{ margin: '0.5rem 0' }}>
                Clear selection
              </Button>
              {robots.length === 0 ? (
                <p>No robots found.</p>
              ) : (
                <Table aria-label="Build Trigger Robot Accounts" variant="compact">
                  <Thead>
                    <Tr>
                      <Th screenReaderText="Select" />
                      <Th>Robot Account</Th>
                      <Th>Access</Th>
                    </Tr>
                  </Thead>
                  <Tbody>
                    {robots.map((r, i) => (
                      <Tr key={r.name} data-testid="trigger-robot">
                        <Td select={{ rowIndex: i, variant: 'radio', isSelected: s.robot === r.name, onSelect: () => set({ robot: r.name }) }} aria-label={`Select ${r.name}`} />
                        <Td className="quay-mono">{r.name}</Td>
                        <Td>{a?.status === 'requiresrobot' ? (r.can_read ? 'Can Read' : 'Read access will be added if selected') : ''}</Td>
                      </Tr>
                    ))}
                  </Tbody>
                </Table>
              )}
            </>
          )}
        </WizardStep>

        <WizardStep name="Review and Finish" id="review-and-finish" footer={{ nextButtonText: 'Finish', onNext: finish }}>
          <Title headingLevel="h2">Review and finish</Title>
          {error && <Alert variant="danger" isInline title={error} data-testid="modal-error" style={{ margin: '1rem 0' }} />}
          <DescriptionList isHorizontal isCompact style={{ marginTop: '1rem' }}>
            {(
              [
                ['Repository', <span className="quay-mono">{s.source}</span>],
                ['Branches/Tags', s.hasFilter ? <span className="quay-mono">{s.regex}</span> : 'All'],
                ['Tagging Options', <TaggingOptions config={{ default_tag_from_ref: s.tagFromRef, latest_for_default_branch: s.latest, tag_templates: s.templates }} />],
                ['Dockerfile Location', s.dockerfile],
                ['Context Location', s.context],
                ['Pull Robot', s.robot || '(None)'],
              ] as const
            ).map(([term, value]) => (
              <DescriptionListGroup key={term}>
                <DescriptionListTerm>{term}</DescriptionListTerm>
                <DescriptionListDescription>{value}</DescriptionListDescription>
              </DescriptionListGroup>
            ))}
          </DescriptionList>
        </WizardStep>
      </Wizard>
    </Modal>
  );
}
