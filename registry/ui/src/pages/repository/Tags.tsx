/**
 * Tags tab: server-side filter and paging (100 per page), manifest lists expanded to their platforms,
 * add/move tag, labels, expiration, remove (into the time machine).
 */
import { memo, useCallback, useState } from 'react';
import { Link } from 'react-router-dom';
import {
  Button,
  Dropdown,
  DropdownItem,
  DropdownList,
  FormGroup,
  HelperText,
  HelperTextItem,
  Label,
  LabelGroup,
  MenuToggle,
  Popover,
  SearchInput,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { ActionsColumn, ExpandableRowContent, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { EllipsisVIcon } from '@patternfly/react-icons';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import { useInvalidate, useRegistryInfo } from '../../api/hooks';
import { bytes, dateTime, shortDigest } from '../../api/format';
import { Copy, Empty, ErrorState, FormModal, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
import { Pager } from '../../components/TokenPager';
import { SecuritySummary, useSecuritySummaries, type Summary } from './Security';
import { tagPageQuery } from './queries';
import type { Repository, Tag } from './types';

interface ManifestView {
  digest: string;
  is_manifest_list: boolean;
  manifest_data: string;
}

interface ChildManifest {
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

export function useManifest(repo: Repository, digest: string | undefined) {
  return useQuery({
    queryKey: ['manifest', repo.namespace, repo.name, digest],
    queryFn: () => api.get<ManifestView>(`${repoPath(repo.namespace, repo.name)}/manifest/${enc(digest!)}`),
    enabled: !!digest,
    staleTime: Infinity,
  });
}

function Children({ repo, digest, security }: { repo: Repository; digest: string; security: boolean }) {
  const q = useManifest(repo, digest);
  const children = q.data ? (((JSON.parse(q.data.manifest_data) as { manifests?: ChildManifest[] }).manifests ?? []) as ChildManifest[]) : [];
  const summaries = useSecuritySummaries(
    repo,
    children.map((c) => c.digest),
    security,
  );
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorState error={q.error} />;
  return (
    <Table aria-label={`Platforms of ${digest}`} variant="compact" borders={false}>
      <Thead>
        <Tr>
          <Th>Platform</Th>
          {security && <Th>Security</Th>}
          <Th>Size</Th>
          <Th>Digest</Th>
        </Tr>
      </Thead>
      <Tbody>
        {children.map((c) => (
          <Tr key={c.digest}>
            <Td dataLabel="Platform">{c.platform ? `${c.platform.os} on ${c.platform.architecture}${c.platform.variant ? `/${c.platform.variant}` : ''}` : 'unknown'}</Td>
            {security && (
              <Td dataLabel="Security">
                <SecuritySummary summary={summaries.data?.manifests[c.digest]} loading={summaries.isLoading} />
              </Td>
            )}
            <Td dataLabel="Size">{bytes(c.size)}</Td>
            <Td dataLabel="Digest">
              <Link to={`/repository/${repo.namespace}/${repo.name}/manifest/${c.digest}`} className="quay-mono">
                {shortDigest(c.digest)}
              </Link>
            </Td>
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}

/** The "Pull" popover's body; one popover serves the whole table, opened on the row's button. */
function PullCommands({ pullRef, tag }: { pullRef: string; tag: Tag }) {
  return (
    <div data-testid="pull-popover">
      <strong>Podman Pull (By Tag)</strong>
      <Copy label="Podman pull by tag" value={`podman pull ${pullRef}:${tag.name}`} testId="copy-tag-podman" />
      <strong>Docker Pull (By Tag)</strong>
      <Copy label="Docker pull by tag" value={`docker pull ${pullRef}:${tag.name}`} />
      <strong>Podman Pull (By Digest)</strong>
      <Copy label="Podman pull by digest" value={`podman pull ${pullRef}@${tag.manifest_digest}`} />
      <strong>Docker Pull (By Digest)</strong>
      <Copy label="Docker pull by digest" value={`docker pull ${pullRef}@${tag.manifest_digest}`} />
    </div>
  );
}

interface Label {
  id: string;
  key: string;
  value: string;
  source_type: string;
}

function LabelsModal({ repo, tag, onClose }: { repo: Repository; tag: Tag; onClose: () => void }) {
  const base = `${repoPath(repo.namespace, repo.name)}/manifest/${enc(tag.manifest_digest)}/labels`;
  const q = useQuery({ queryKey: ['labels', repo.namespace, repo.name, tag.manifest_digest], queryFn: () => api.get<{ labels: Label[] }>(base) });
  const [text, setText] = useState('');
  const [removed, setRemoved] = useState<Set<string>>(new Set());
  const invalidate = useInvalidate();
  const parsed = text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.split('='));
  const valid = parsed.every((p) => p.length >= 2 && p[0]);
  return (
    <FormModal
      title={`Edit labels of ${tag.name}`}
      isOpen
      onClose={onClose}
      submitLabel="Save labels"
      submitDisabled={!valid}
      variant="medium"
      onSubmit={async () => {
        for (const id of removed) await api.del(`${base}/${enc(id)}`);
        for (const [key, ...rest] of parsed) await api.post(base, { key, value: rest.join('='), media_type: 'text/plain' });
        await invalidate(['labels', repo.namespace, repo.name, tag.manifest_digest]);
      }}
    >
      <FormGroup label="Labels" fieldId="existing-labels">
        {q.isLoading ? (
          <Loading />
        ) : (
          <LabelGroup numLabels={20} id="existing-labels">
            {(q.data?.labels ?? [])
              .filter((l) => !removed.has(l.id))
              .map((l) => (
                <Label key={l.id} onClose={l.source_type === 'api' ? () => setRemoved((s) => new Set(s).add(l.id)) : undefined} closeBtnAriaLabel={`Remove label ${l.key}`}>
                  {l.key}={l.value}
                </Label>
              ))}
          </LabelGroup>
        )}
      </FormGroup>
      <FormGroup label="Add labels (key=value, one per line or comma separated)" fieldId="new-labels">
        <TextInput id="new-labels" value={text} onChange={(_e, v) => setText(v)} validated={valid ? 'default' : 'error'} />
      </FormGroup>
    </FormModal>
  );
}

function toLocalInput(epochS: number | undefined): string {
  const d = epochS ? new Date(epochS * 1000) : new Date(Date.now() + 7 * 86400_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function ExpirationModal({ repo, tags, onClose }: { repo: Repository; tags: Tag[]; onClose: () => void }) {
  const [value, setValue] = useState(toLocalInput(tags.length === 1 ? tags[0].end_ts : undefined));
  const invalidate = useInvalidate();
  const alert = useAlert();
  const set = async (expiration: number | null) => {
    for (const t of tags) await api.put(`${repoPath(repo.namespace, repo.name)}/tag/${enc(t.name)}`, { expiration });
    await invalidate(['tags', repo.namespace, repo.name]);
    alert('success', expiration === null ? `Cleared expiration of ${tags.map((t) => t.name).join(', ')}` : `Set expiration of ${tags.map((t) => t.name).join(', ')}`);
  };
  const [clearing, setClearing] = useState(false);
  return (
    <FormModal title="Change expiration" isOpen onClose={onClose} submitLabel="Change expiration" onSubmit={() => set(Math.floor(new Date(value).getTime() / 1000))}>
      <FormGroup label="Expires at (local time)" fieldId="tag-expiration">
        <TextInput id="tag-expiration" type="datetime-local" value={value} onChange={(_e, v) => setValue(v)} />
      </FormGroup>
      <HelperText>
        <HelperTextItem>When a tag expires it moves to the repository&apos;s time machine and can be restored from Tag history.</HelperTextItem>
      </HelperText>
      <div>
        <Button
          variant="secondary"
          isLoading={clearing}
          onClick={async () => {
            setClearing(true);
            try {
              await set(null);
              onClose();
            } catch (e) {
              alert('danger', errorMessage(e));
            } finally {
              setClearing(false);
            }
          }}
        >
          Clear expiration
        </Button>
      </div>
    </FormModal>
  );
}

function AddTagModal({ repo, tag, onClose }: { repo: Repository; tag: Tag; onClose: () => void }) {
  const [name, setName] = useState('');
  const invalidate = useInvalidate();
  const alert = useAlert();
  const valid = /^[\w][\w.-]{0,127}$/.test(name);
  return (
    <FormModal
      title={`Add new tag to ${shortDigest(tag.manifest_digest)}`}
      isOpen
      onClose={onClose}
      submitLabel="Create tag"
      submitDisabled={!valid}
      onSubmit={async () => {
        await api.put(`${repoPath(repo.namespace, repo.name)}/tag/${enc(name)}`, { manifest_digest: tag.manifest_digest });
        await invalidate(['tags', repo.namespace, repo.name]);
        alert('success', `Tag ${name} now points to ${shortDigest(tag.manifest_digest)}`);
      }}
    >
      <p>An existing tag of that name is moved to this manifest (its old position stays in Tag history).</p>
      <FormGroup label="New tag name" fieldId="new-tag-name" isRequired>
        <TextInput id="new-tag-name" value={name} onChange={(_e, v) => setName(v)} validated={name && !valid ? 'error' : 'default'} isRequired />
      </FormGroup>
    </FormModal>
  );
}

type Action = { kind: 'add' | 'labels'; tag: Tag } | { kind: 'expiration' | 'remove'; tags: Tag[] };

interface TagRowProps {
  repo: Repository;
  tag: Tag;
  index: number;
  writable: boolean;
  security: boolean;
  summary: Summary | undefined;
  summaryLoading: boolean;
  isOpen: boolean;
  isSelected: boolean;
  onToggle: (name: string) => void;
  onSelect: (name: string, on: boolean) => void;
  onAction: (a: Action) => void;
  onPull: (tag: Tag, trigger: HTMLElement) => void;
}

/**
 * One tag (and its platforms when expanded). A page renders 100 of them, so a row re-renders only when its own
 * props change, and its plain cells are plain `td`s with PatternFly's class (PatternFly's `Td` measures every
 * cell after mount).
 */
const TagRow = memo(function TagRow({ repo, tag: t, index, writable, security, summary, summaryLoading, isOpen, isSelected, onToggle, onSelect, onAction, onPull }: TagRowProps) {
  const expires = dateTime(t.expiration, 'Never');
  return (
    <Tbody isExpanded={isOpen}>
      <Tr data-testid="table-entry">
        <Td expand={t.is_manifest_list ? { rowIndex: index, isExpanded: isOpen, onToggle: () => onToggle(t.name) } : undefined} />
        {writable && <Td select={{ rowIndex: index, isSelected, onSelect: (_e, on) => onSelect(t.name, on) }} />}
        <td className="pf-v6-c-table__td" data-label="Tag">
          <Link to={`/repository/${repo.namespace}/${repo.name}/tag/${enc(t.name)}`}>{t.name}</Link>
          {t.is_manifest_list && (
            <Label isCompact color="blue" style={{ marginLeft: 8 }}>
              manifest list
            </Label>
          )}
        </td>
        {security && (
          <td className="pf-v6-c-table__td" data-label="Security">
            {t.is_manifest_list ? 'See Child Manifests' : <SecuritySummary summary={summary} loading={summaryLoading} />}
          </td>
        )}
        <td className="pf-v6-c-table__td" data-label="Size">
          {t.is_manifest_list ? 'See Child Manifests' : bytes(t.size)}
        </td>
        <td className="pf-v6-c-table__td" data-label="Last Modified">
          {dateTime(t.last_modified)}
        </td>
        <td className="pf-v6-c-table__td" data-label="Expires">
          {writable ? (
            <Button variant="link" isInline onClick={() => onAction({ kind: 'expiration', tags: [t] })} aria-label={`${expires}: change expiration of ${t.name}`}>
              {expires}
            </Button>
          ) : (
            expires
          )}
        </td>
        <td className="pf-v6-c-table__td" data-label="Manifest">
          <span className="quay-mono">{shortDigest(t.manifest_digest)}</span>
        </td>
        <td className="pf-v6-c-table__td" data-label="Pull">
          <Button variant="link" isInline aria-label={`Pull commands for ${t.name}`} onClick={(e) => onPull(t, e.currentTarget)}>
            Pull
          </Button>
        </td>
        {writable && (
          <Td isActionCell>
            <ActionsColumn
              items={[
                { title: 'Add new tag', onClick: () => onAction({ kind: 'add', tag: t }) },
                { title: 'Edit labels', onClick: () => onAction({ kind: 'labels', tag: t }) },
                { title: 'Change expiration', onClick: () => onAction({ kind: 'expiration', tags: [t] }) },
                { title: 'Remove', onClick: () => onAction({ kind: 'remove', tags: [t] }) },
              ]}
              actionsToggle={({ onToggle: toggle, isOpen: open, toggleRef }) => (
                <MenuToggle ref={toggleRef} variant="plain" onClick={toggle} isExpanded={open} aria-label={`Actions for ${t.name}`}>
                  <EllipsisVIcon />
                </MenuToggle>
              )}
            />
          </Td>
        )}
      </Tr>
      {t.is_manifest_list && (
        <Tr isExpanded={isOpen}>
          <Td colSpan={(writable ? 9 : 7) + (security ? 1 : 0)}>
            <ExpandableRowContent>{isOpen && <Children repo={repo} digest={t.manifest_digest} security={security} />}</ExpandableRowContent>
          </Td>
        </Tr>
      )}
    </Tbody>
  );
});

export default function Tags({ repo }: { repo: Repository }) {
  const { host, features } = useRegistryInfo();
  const security = !!features.SECURITY_SCANNER;
  const pullRef = `${host}/${repo.namespace}/${repo.name}`;
  const [page, setPage] = useState(1);
  const [filter, setFilter] = useState('');
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [action, setAction] = useState<Action | null>(null);
  const [bulkOpen, setBulkOpen] = useState(false);
  const [pull, setPull] = useState<{ tag: Tag; trigger: HTMLElement } | null>(null);
  const onToggle = useCallback(
    (name: string) =>
      setExpanded((s) => {
        const n = new Set(s);
        if (n.has(name)) n.delete(name);
        else n.add(name);
        return n;
      }),
    [],
  );
  const onSelect = useCallback(
    (name: string, on: boolean) =>
      setSelected((s) => {
        const n = new Set(s);
        if (on) n.add(name);
        else n.delete(name);
        return n;
      }),
    [],
  );
  const onPull = useCallback((tag: Tag, trigger: HTMLElement) => setPull((p) => (p?.tag.name === tag.name ? null : { tag, trigger })), []);
  const invalidate = useInvalidate();
  const alert = useAlert();
  const base = repoPath(repo.namespace, repo.name);
  const q = useQuery({ ...tagPageQuery(repo.namespace, repo.name, page, filter), placeholderData: keepPreviousData });
  const tags = q.data?.tags ?? [];
  const summaries = useSecuritySummaries(
    repo,
    tags.filter((t) => !t.is_manifest_list).map((t) => t.manifest_digest),
    security,
  );
  const chosen = tags.filter((t) => selected.has(t.name));
  const writable = repo.can_write && repo.state === 'NORMAL';

  const remove = async (list: Tag[]) => {
    const results = await Promise.allSettled(list.map((t) => api.del(`${base}/tag/${enc(t.name)}`)));
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    if (failed.length) throw new Error(`${failed.length} of ${list.length} tags could not be removed: ${errorMessage(failed[0].reason)}`);
    alert('success', `Removed ${list.map((t) => t.name).join(', ')}`);
    setSelected(new Set());
    await invalidate(['tags', repo.namespace, repo.name]);
  };

  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput
              placeholder="Filter by tag name"
              aria-label="Filter by tag name"
              value={filter}
              onChange={(_e, v) => {
                setFilter(v);
                setPage(1);
              }}
              onClear={() => setFilter('')}
            />
          </ToolbarItem>
          {writable && (
            <ToolbarItem>
              <Dropdown
                isOpen={bulkOpen}
                onOpenChange={setBulkOpen}
                toggle={(ref) => (
                  <MenuToggle ref={ref} onClick={() => setBulkOpen(!bulkOpen)} isDisabled={chosen.length === 0} isExpanded={bulkOpen}>
                    Actions
                  </MenuToggle>
                )}
              >
                <DropdownList>
                  <DropdownItem onClick={() => setAction({ kind: 'expiration', tags: chosen })}>Set expiration</DropdownItem>
                  <DropdownItem onClick={() => setAction({ kind: 'remove', tags: chosen })}>Remove</DropdownItem>
                </DropdownList>
              </Dropdown>
            </ToolbarItem>
          )}
          <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
            <Pager label="Tags" page={page} hasNext={!!q.data?.has_additional} onPrev={() => setPage((p) => Math.max(1, p - 1))} onNext={() => setPage((p) => p + 1)} />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {q.isLoading ? (
        <Loading />
      ) : q.error ? (
        <ErrorState error={q.error} />
      ) : tags.length === 0 ? (
        <Empty title={filter ? 'No matching tags' : 'This repository is empty'}>
          {filter ? 'No tag name contains that text.' : 'Push an image to this repository to see its tags here.'}
        </Empty>
      ) : (
        <Table aria-label="Tags" variant="compact">
          <Thead>
            <Tr>
              <Th screenReaderText="Expand" />
              {writable && (
                <Th
                  select={{ onSelect: (_e, all) => setSelected(all ? new Set(tags.map((t) => t.name)) : new Set()), isSelected: chosen.length === tags.length }}
                  aria-label="Select all tags"
                />
              )}
              <Th>Tag</Th>
              {security && <Th>Security</Th>}
              <Th>Size</Th>
              <Th>Last Modified</Th>
              <Th>Expires</Th>
              <Th>Manifest</Th>
              <Th>Pull</Th>
              {writable && <Th screenReaderText="Actions" />}
            </Tr>
          </Thead>
          {tags.map((t, i) => (
            <TagRow
              key={t.name}
              repo={repo}
              tag={t}
              index={i}
              writable={writable}
              security={security}
              summary={summaries.data?.manifests[t.manifest_digest]}
              summaryLoading={summaries.isLoading}
              isOpen={expanded.has(t.name)}
              isSelected={selected.has(t.name)}
              onToggle={onToggle}
              onSelect={onSelect}
              onAction={setAction}
              onPull={onPull}
            />
          ))}
        </Table>
      )}
      {pull && (
        <Popover
          isVisible
          triggerRef={() => pull.trigger}
          shouldClose={() => setPull(null)}
          headerContent="Fetch Tag"
          minWidth="36rem"
          bodyContent={<PullCommands pullRef={pullRef} tag={pull.tag} />}
        />
      )}
      {action?.kind === 'add' && <AddTagModal repo={repo} tag={action.tag} onClose={() => setAction(null)} />}
      {action?.kind === 'labels' && <LabelsModal repo={repo} tag={action.tag} onClose={() => setAction(null)} />}
      {action?.kind === 'expiration' && <ExpirationModal repo={repo} tags={action.tags} onClose={() => setAction(null)} />}
      {action?.kind === 'remove' && (
        <FormModal title="Remove tags" isOpen danger submitLabel="Remove" onClose={() => setAction(null)} onSubmit={() => remove(action.tags)}>
          <p>
            Remove {action.tags.map((t) => t.name).join(', ')}?{' '}
            {repo.tag_expiration_s > 0 ? 'They can be restored from Tag history within the time machine window.' : 'The time machine window is zero: they cannot be restored.'}
          </p>
        </FormModal>
      )}
    </>
  );
}
