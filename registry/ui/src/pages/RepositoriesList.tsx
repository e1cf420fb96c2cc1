/** Repositories list (`/repository`, and the Repositories tab of a namespace): create, filter, bulk actions. */
import { useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import {
  Button,
  Dropdown,
  DropdownItem,
  DropdownList,
  FormGroup,
  FormSelect,
  FormSelectOption,
  MenuToggle,
  PageSection,
  Radio,
  SearchInput,
  TextArea,
  TextInput,
  Title,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, repoPath } from '../api/client';
import { useInvalidate, useMe, type QuotaReport } from '../api/hooks';
import { bytes, dateTime } from '../api/format';
import { Empty, ErrorState, FormModal, Loading } from '../components/common';
import { errorMessage, useAlert } from '../components/alerts';
import { Pager, useTokenPages } from '../components/TokenPager';

export interface RepoSummary {
  namespace: string;
  name: string;
  description: string | null;
  is_public: boolean;
  last_modified: number | null;
  quota_report?: QuotaReport;
}

export function CreateRepositoryModal({ isOpen, onClose, namespace }: { isOpen: boolean; onClose: () => void; namespace?: string }) {
  const me = useMe();
  const namespaces = [me.username, ...me.organizations.filter((o) => o.can_create_repo).map((o) => o.name)];
  const [ns, setNs] = useState(namespace ?? me.username);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [visibility, setVisibility] = useState<'public' | 'private'>('private');
  const invalidate = useInvalidate();
  const alert = useAlert();
  const valid = /^[a-z0-9][.a-z0-9_-]{0,254}(\/[a-z0-9][.a-z0-9_-]*)*$/.test(name);
  return (
    <FormModal
      title="Create repository"
      isOpen={isOpen}
      onClose={onClose}
      submitLabel="Create"
      submitDisabled={!valid}
      variant="medium"
      onSubmit={async () => {
        await api.post('/repository', { namespace: ns, repository: name, visibility, description, repo_kind: 'image' });
        await invalidate(['repositories']);
        alert('success', `Created repository ${ns}/${name}`);
        setName('');
        setDescription('');
      }}
    >
      <FormGroup label="Namespace" fieldId="repo-namespace" isRequired>
        <FormSelect id="repo-namespace" value={ns} onChange={(_e, v) => setNs(v)} isDisabled={!!namespace}>
          {(namespace ? [namespace] : namespaces).map((n) => (
            <FormSelectOption key={n} value={n} label={n} />
          ))}
        </FormSelect>
      </FormGroup>
      <FormGroup label="Repository name" fieldId="repo-name" isRequired>
        <TextInput id="repo-name" value={name} onChange={(_e, v) => setName(v)} validated={name && !valid ? 'error' : 'default'} isRequired />
      </FormGroup>
      <FormGroup label="Repository description" fieldId="repo-description">
        <TextArea id="repo-description" value={description} onChange={(_e, v) => setDescription(v)} resizeOrientation="vertical" />
      </FormGroup>
      <FormGroup label="Repository visibility" role="radiogroup" fieldId="repo-visibility" isStack>
        <Radio
          id="visibility-public"
          name="visibility"
          label="Public"
          description="Anyone can see and pull from this repository."
          isChecked={visibility === 'public'}
          onChange={() => setVisibility('public')}
        />
        <Radio
          id="visibility-private"
          name="visibility"
          label="Private"
          description="You choose who can see, pull and push."
          isChecked={visibility === 'private'}
          onChange={() => setVisibility('private')}
        />
      </FormGroup>
    </FormModal>
  );
}

export function RepositoriesTable({ namespace }: { namespace?: string }) {
  const me = useMe();
  const pages = useTokenPages();
  const [filter, setFilter] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [creating, setCreating] = useState(false);
  const [actionsOpen, setActionsOpen] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const invalidate = useInvalidate();
  const alert = useAlert();
  const q = useQuery({
    queryKey: ['repositories', namespace ?? '', pages.token ?? ''],
    queryFn: () => {
      const p = new URLSearchParams({ last_modified: 'true', public: 'true' });
      if (namespace) p.set('namespace', namespace);
      if (pages.token) p.set('next_page', pages.token);
      return api.get<{ repositories: RepoSummary[]; next_page?: string }>(`/repository?${p}`);
    },
    placeholderData: keepPreviousData,
  });
  const rows = useMemo(() => (q.data?.repositories ?? []).filter((r) => `${r.namespace}/${r.name}`.includes(filter)), [q.data, filter]);
  const key = (r: RepoSummary) => `${r.namespace}/${r.name}`;
  const chosen = rows.filter((r) => selected.has(key(r)));

  const bulk = async (label: string, fn: (r: RepoSummary) => Promise<unknown>) => {
    const results = await Promise.allSettled(chosen.map(fn));
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    if (failed.length) alert('danger', `${label}: ${failed.length} of ${results.length} failed: ${errorMessage(failed[0].reason)}`);
    else alert('success', `${label}: ${results.length} repositories`);
    setSelected(new Set());
    await invalidate(['repositories']);
  };

  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} />;
  const signedIn = !me.anonymous;
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput placeholder="Filter by name" aria-label="Filter by name" value={filter} onChange={(_e, v) => setFilter(v)} onClear={() => setFilter('')} />
          </ToolbarItem>
          {signedIn && (
            <>
              <ToolbarItem>
                <Button onClick={() => setCreating(true)}>Create Repository</Button>
              </ToolbarItem>
              <ToolbarItem>
                <Dropdown
                  isOpen={actionsOpen}
                  onOpenChange={setActionsOpen}
                  toggle={(ref) => (
                    <MenuToggle ref={ref} onClick={() => setActionsOpen(!actionsOpen)} isDisabled={chosen.length === 0} isExpanded={actionsOpen}>
                      Actions
                    </MenuToggle>
                  )}
                >
                  <DropdownList>
                    <DropdownItem onClick={() => bulk('Made public', (r) => api.post(`${repoPath(r.namespace, r.name)}/changevisibility`, { visibility: 'public' }))}>
                      Make public
                    </DropdownItem>
                    <DropdownItem onClick={() => bulk('Made private', (r) => api.post(`${repoPath(r.namespace, r.name)}/changevisibility`, { visibility: 'private' }))}>
                      Make private
                    </DropdownItem>
                    <DropdownItem onClick={() => setConfirmDelete(true)}>Delete</DropdownItem>
                  </DropdownList>
                </Dropdown>
              </ToolbarItem>
            </>
          )}
          <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
            <Pager label="Repositories" page={pages.page} hasNext={!!q.data?.next_page} onPrev={pages.prev} onNext={() => q.data?.next_page && pages.next(q.data.next_page)} />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {rows.length === 0 ? (
        <Empty title="There are no viewable repositories" action={signedIn ? <Button onClick={() => setCreating(true)}>Create Repository</Button> : undefined}>
          Either no repositories exist yet or you may not have permission to view any.
        </Empty>
      ) : (
        <Table aria-label="Repositories" variant="compact">
          <Thead>
            <Tr>
              {signedIn && (
                <Th
                  select={{ onSelect: (_e, all) => setSelected(all ? new Set(rows.map(key)) : new Set()), isSelected: chosen.length === rows.length && rows.length > 0 }}
                  aria-label="Select all"
                />
              )}
              <Th>Name</Th>
              <Th>Visibility</Th>
              <Th>Size</Th>
              <Th>Last Modified</Th>
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((r, i) => (
              <Tr key={key(r)} data-testid="table-entry">
                {signedIn && (
                  <Td
                    select={{
                      rowIndex: i,
                      isSelected: selected.has(key(r)),
                      onSelect: (_e, on) =>
                        setSelected((s) => {
                          const n = new Set(s);
                          if (on) n.add(key(r));
                          else n.delete(key(r));
                          return n;
                        }),
                    }}
                  />
                )}
                <Td dataLabel="Name">
                  <Link to={`/repository/${r.namespace}/${r.name}`}>{namespace ? r.name : key(r)}</Link>
                </Td>
                <Td dataLabel="Visibility">{r.is_public ? 'public' : 'private'}</Td>
                <Td dataLabel="Size">{r.quota_report ? bytes(r.quota_report.quota_bytes) : '—'}</Td>
                <Td dataLabel="Last Modified">{dateTime(r.last_modified)}</Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      <CreateRepositoryModal isOpen={creating} onClose={() => setCreating(false)} namespace={namespace} />
      <FormModal
        title="Delete repositories"
        isOpen={confirmDelete}
        onClose={() => setConfirmDelete(false)}
        submitLabel="Delete"
        danger
        onSubmit={() => bulk('Deleted', (r) => api.del(repoPath(r.namespace, r.name)))}
      >
        <p>
          This will permanently delete {chosen.length} {chosen.length === 1 ? 'repository' : 'repositories'}: {chosen.map(key).join(', ')}. This cannot be undone.
        </p>
      </FormModal>
    </>
  );
}

export default function RepositoriesList() {
  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Repositories</Title>
      </PageSection>
      <PageSection>
        <RepositoriesTable />
      </PageSection>
    </>
  );
}
