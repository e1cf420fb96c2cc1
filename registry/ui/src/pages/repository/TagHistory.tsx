/**
 * Tag history: every tag interval (active and ended) turned into events (created, moved, restored,
 * deleted/expired, expiring) with Restore for the ones the time machine still holds.
 */
import { useMemo, useState } from 'react';
import { Button, Label, SearchInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../../api/client';
import { useInvalidate } from '../../api/hooks';
import { dateTime, duration, shortDigest } from '../../api/format';
import { Empty, ErrorState, Loading } from '../../components/common';
import { errorMessage, useAlert } from '../../components/alerts';
import { Pager } from '../../components/TokenPager';
import type { Repository, TagPage } from './types';

interface HistoryEvent {
  key: string;
  tag: string;
  at: number;
  kind: 'create' | 'move' | 'revert' | 'delete' | 'expire';
  digest: string;
  oldDigest?: string;
  /** Digest a Restore puts the tag back on. */
  restoreTo?: string;
}

export default function TagHistory({ repo }: { repo: Repository }) {
  const [page, setPage] = useState(1);
  const [filter, setFilter] = useState('');
  const invalidate = useInvalidate();
  const alert = useAlert();
  const base = repoPath(repo.namespace, repo.name);
  const q = useQuery({
    queryKey: ['tags', repo.namespace, repo.name, 'history', page, filter],
    queryFn: () => {
      const p = new URLSearchParams({ limit: '50', page: String(page), onlyActiveTags: 'false' });
      if (filter) p.set('filter_tag_name', `like:${filter}`);
      return api.get<TagPage>(`${base}/tag/?${p}`);
    },
    placeholderData: keepPreviousData,
  });
  const events = useMemo(() => {
    const now = Date.now() / 1000;
    const rows = q.data?.tags ?? [];
    const out: HistoryEvent[] = [];
    for (const r of rows) {
      const before = rows.find((o) => o.name === r.name && o.end_ts === r.start_ts && o !== r);
      const kind = r.reversion ? 'revert' : before ? 'move' : 'create';
      out.push({
        key: `${r.name}-${r.start_ts}-s`,
        tag: r.name,
        at: r.start_ts,
        kind,
        digest: r.manifest_digest,
        oldDigest: before?.manifest_digest,
        restoreTo: before?.manifest_digest,
      });
      if (r.end_ts !== undefined && r.end_ts <= now) {
        const followed = rows.some((o) => o.name === r.name && o.start_ts === r.end_ts && o !== r);
        if (!followed) out.push({ key: `${r.name}-${r.end_ts}-e`, tag: r.name, at: r.end_ts, kind: 'delete', digest: r.manifest_digest, restoreTo: r.manifest_digest });
      } else if (r.end_ts !== undefined) {
        out.push({ key: `${r.name}-${r.end_ts}-x`, tag: r.name, at: r.end_ts, kind: 'expire', digest: r.manifest_digest });
      }
    }
    return out.sort((a, b) => b.at - a.at);
  }, [q.data]);

  const restore = async (e: HistoryEvent) => {
    try {
      await api.post(`${base}/tag/${enc(e.tag)}/restore`, { manifest_digest: e.restoreTo });
      alert('success', `Restored ${e.tag} to ${shortDigest(e.restoreTo)}`);
      await invalidate(['tags', repo.namespace, repo.name]);
    } catch (err) {
      alert('danger', errorMessage(err));
    }
  };

  const text = (e: HistoryEvent) => {
    const d = <span className="quay-mono">{shortDigest(e.digest)}</span>;
    switch (e.kind) {
      case 'create':
        return (
          <>
            {e.tag} was created pointing to {d}
          </>
        );
      case 'move':
        return (
          <>
            {e.tag} was moved from <span className="quay-mono">{shortDigest(e.oldDigest)}</span> to {d}
          </>
        );
      case 'revert':
        return (
          <>
            {e.tag} was restored to {d}
          </>
        );
      case 'delete':
        return (
          <>
            {e.tag} was deleted (pointed to {d})
          </>
        );
      case 'expire':
        return (
          <>
            {e.tag} will expire{' '}
            <Label isCompact color="orange">
              future
            </Label>
          </>
        );
    }
  };

  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput
              placeholder="Search by tag name"
              aria-label="Search by tag name"
              value={filter}
              onChange={(_e, v) => {
                setFilter(v);
                setPage(1);
              }}
              onClear={() => setFilter('')}
            />
          </ToolbarItem>
          <ToolbarItem>Time machine window: {duration(repo.tag_expiration_s)}</ToolbarItem>
          <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
            <Pager label="Tag history" page={page} hasNext={!!q.data?.has_additional} onPrev={() => setPage((p) => Math.max(1, p - 1))} onNext={() => setPage((p) => p + 1)} />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {q.isLoading ? (
        <Loading />
      ) : q.error ? (
        <ErrorState error={q.error} />
      ) : events.length === 0 ? (
        <Empty title="No tag history" />
      ) : (
        <Table aria-label="Tag history" variant="compact">
          <Thead>
            <Tr>
              <Th>Tag change</Th>
              <Th>Modified date/time</Th>
              <Th>Revert</Th>
            </Tr>
          </Thead>
          <Tbody>
            {events.map((e) => (
              <Tr key={e.key} data-testid="history-entry">
                <Td dataLabel="Tag change">{text(e)}</Td>
                <Td dataLabel="Modified date/time">{dateTime(e.at)}</Td>
                <Td dataLabel="Revert">
                  {e.restoreTo && repo.can_write && (
                    <Button variant="secondary" size="sm" onClick={() => restore(e)}>
                      Restore {e.tag} to {shortDigest(e.restoreTo)}
                    </Button>
                  )}
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
    </>
  );
}
