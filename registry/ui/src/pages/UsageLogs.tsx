/**
 * Usage logs of a repository, namespace or the whole registry: date range, chart of actions per day,
 * table with server-side filter and `next_page` paging.
 */
import { lazy, Suspense, useMemo, useState } from 'react';
import { Button, Flex, FlexItem, FormGroup, Radio, SearchInput, TextInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, enc, repoPath } from '../api/client';
import { dateTime } from '../api/format';
import { useRegistryInfo } from '../api/hooks';
import { useAlert } from '../components/alerts';
import { Empty, ErrorState, FormModal, Loading } from '../components/common';
import { Pager, useTokenPages } from '../components/TokenPager';
import { describeLog } from './logDescriptions';
import type { Aggregate } from './LogsChart';

const LogsChart = lazy(() => import('./LogsChart'));

export type LogScope = { kind: 'repository'; namespace: string; repo: string } | { kind: 'organization'; namespace: string } | { kind: 'user' } | { kind: 'superuser' };

interface LogEntry {
  kind: string;
  metadata: Record<string, unknown>;
  ip: string | null;
  datetime: string;
  performer?: { name: string; kind: string; is_robot?: boolean };
}

function basePath(scope: LogScope): string {
  switch (scope.kind) {
    case 'repository':
      return repoPath(scope.namespace, scope.repo);
    case 'organization':
      return `/organization/${enc(scope.namespace)}`;
    case 'user':
      return '/user';
    case 'superuser':
      return '/superuser';
  }
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);
/** The API takes MM/DD/YYYY (UTC). */
const apiDay = (iso: string) => `${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(0, 4)}`;

/** Quay's "Export Usage Logs": the export is queued; the link arrives by e-mail or at a callback URL. */
function ExportLogsModal({ base, range, onClose }: { base: string; range: URLSearchParams; onClose: () => void }) {
  const alert = useAlert();
  const [target, setTarget] = useState<'email' | 'url'>('email');
  const [value, setValue] = useState('');
  return (
    <FormModal
      title="Export Usage Logs"
      isOpen
      onClose={onClose}
      submitLabel="Start Logs Export"
      submitDisabled={!value}
      onSubmit={async () => {
        const r = await api.post<{ export_id: string }>(`${base}/exportlogs?${range}`, target === 'email' ? { callback_email: value } : { callback_url: value });
        alert('success', `Logs export queued with ID ${r.export_id}`);
      }}
    >
      <p>The logs of the chosen period are collected in the background; a link to the file is sent when it is ready.</p>
      <FormGroup role="radiogroup" fieldId="export-target" label="Send the link to" isStack>
        <Radio id="export-email" name="export-target" label="E-mail address" isChecked={target === 'email'} onChange={() => setTarget('email')} />
        <Radio id="export-url" name="export-target" label="Callback URL" isChecked={target === 'url'} onChange={() => setTarget('url')} />
      </FormGroup>
      <FormGroup label={target === 'email' ? 'E-mail address' : 'Callback URL'} fieldId="export-value" isRequired>
        <TextInput id="export-value" type={target === 'email' ? 'email' : 'url'} value={value} onChange={(_e, v) => setValue(v)} />
      </FormGroup>
    </FormModal>
  );
}

export default function UsageLogs({ scope }: { scope: LogScope }) {
  const today = isoDay(new Date());
  const [from, setFrom] = useState(isoDay(new Date(Date.now() - 30 * 86400_000)));
  const [to, setTo] = useState(today);
  const [filter, setFilter] = useState('');
  const [showChart, setShowChart] = useState(true);
  const [exporting, setExporting] = useState(false);
  const { features } = useRegistryInfo();
  const pages = useTokenPages();
  const base = basePath(scope);
  const range = useMemo(() => new URLSearchParams({ starttime: apiDay(from), endtime: apiDay(to) }), [from, to]);
  const validRange = from <= to && to <= today;
  const agg = useQuery({
    queryKey: ['aggregatelogs', base, from, to],
    queryFn: () => api.get<{ aggregated: Aggregate[] }>(`${base}/aggregatelogs?${range}`),
    enabled: validRange && showChart,
  });
  const logs = useQuery({
    queryKey: ['logs', base, from, to, filter, pages.token ?? ''],
    queryFn: () => {
      const p = new URLSearchParams(range);
      if (filter) p.set('filter', filter);
      if (pages.token) p.set('next_page', pages.token);
      return api.get<{ logs: LogEntry[]; next_page?: string }>(`${base}/logs?${p}`);
    },
    enabled: validRange,
    placeholderData: keepPreviousData,
  });
  return (
    <div style={{ paddingTop: '1rem' }}>
      <Flex alignItems={{ default: 'alignItemsFlexEnd' }}>
        <FlexItem>
          <FormGroup label="From" fieldId="logs-from">
            <TextInput
              id="logs-from"
              type="date"
              value={from}
              max={to}
              onChange={(_e, v) => {
                setFrom(v);
                pages.reset();
              }}
            />
          </FormGroup>
        </FlexItem>
        <FlexItem>
          <FormGroup label="To" fieldId="logs-to">
            <TextInput
              id="logs-to"
              type="date"
              value={to}
              min={from}
              max={today}
              onChange={(_e, v) => {
                setTo(v);
                pages.reset();
              }}
            />
          </FormGroup>
        </FlexItem>
        <FlexItem>
          <Button variant="secondary" onClick={() => setShowChart(!showChart)}>
            {showChart ? 'Hide Chart' : 'Show Chart'}
          </Button>
        </FlexItem>
        {features.LOG_EXPORT && scope.kind !== 'superuser' && (
          <FlexItem>
            <Button variant="secondary" onClick={() => setExporting(true)} isDisabled={!validRange}>
              Export
            </Button>
          </FlexItem>
        )}
      </Flex>
      {showChart && validRange && (
        <div style={{ marginTop: '1rem' }}>
          {agg.isLoading ? (
            <Loading />
          ) : agg.error ? (
            <ErrorState error={agg.error} />
          ) : (
            <Suspense fallback={<Loading />}>
              <LogsChart data={agg.data!.aggregated} start={new Date(from)} end={new Date(to)} />
            </Suspense>
          )}
        </div>
      )}
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput
              placeholder="Filter logs"
              aria-label="Filter logs"
              value={filter}
              onChange={(_e, v) => {
                setFilter(v);
                pages.reset();
              }}
              onClear={() => setFilter('')}
            />
          </ToolbarItem>
          <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
            <Pager label="Logs" page={pages.page} hasNext={!!logs.data?.next_page} onPrev={pages.prev} onNext={() => logs.data?.next_page && pages.next(logs.data.next_page)} />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {!validRange ? (
        <ErrorState title="Invalid date range" error="'From' must not be after 'To', and 'To' not after today." />
      ) : logs.isLoading ? (
        <Loading />
      ) : logs.error ? (
        <ErrorState error={logs.error} />
      ) : logs.data!.logs.length === 0 ? (
        <Empty title="No logs in this period" />
      ) : (
        <Table aria-label="Usage logs" variant="compact">
          <Thead>
            <Tr>
              <Th>Date & Time</Th>
              <Th>Description</Th>
              <Th>Performed by</Th>
              <Th>IP Address</Th>
            </Tr>
          </Thead>
          <Tbody>
            {logs.data!.logs.map((l, i) => (
              <Tr key={`${l.datetime}-${i}`} data-testid="log-entry">
                <Td dataLabel="Date & Time">{dateTime(l.datetime)}</Td>
                <Td dataLabel="Description">{describeLog(l.kind, l.metadata)}</Td>
                <Td dataLabel="Performed by">{l.performer?.name ?? '(anonymous)'}</Td>
                <Td dataLabel="IP Address">{l.ip ?? ''}</Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      {exporting && <ExportLogsModal base={base} range={range} onClose={() => setExporting(false)} />}
    </div>
  );
}
