/**
 * A build's page (`/repository/{ns}/{repo}/build/{id}`): its phase, tags and trigger, and its log, read
 * incrementally (`logs?start=N`) every two seconds until the build reaches a final phase. The build query,
 * the summary and the log viewer are shared with the superuser's Build Logs page (same views, other paths).
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Link } from 'react-router-dom';
import {
  Breadcrumb,
  BreadcrumbItem,
  Button,
  Checkbox,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  PageSection,
  Title,
} from '@patternfly/react-core';
import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { dateTime } from '../../api/format';
import { ErrorState, FormModal, Loading } from '../../components/common';
import { useRunAction } from '../../components/runAction';
import { useRepository } from './RepositoryDetails';
import { buildsPath, FINAL_PHASES, PhaseLabel, triggeredBy, type Build } from './Builds';

interface LogEntry {
  message: string;
  type?: string;
  data?: Record<string, unknown>;
}

const POLL_MS = 2000;

/**
 * Log entries appended as they arrive, each read starting where the last one ended. One polling loop per
 * build: the build turning final does not restart it (a restart would read from 0 again and show every
 * line twice); the loop stops after a read that began once the build was known to be final.
 */
function useBuildLog(logsPath: string, final: boolean) {
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [error, setError] = useState<unknown>(null);
  const finalRef = useRef(final);
  finalRef.current = final;
  useEffect(() => {
    let stopped = false;
    let start = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setEntries([]);
    const read = async () => {
      const last = finalRef.current;
      try {
        const r = await api.get<{ start: number; total: number; logs: LogEntry[] }>(`${logsPath}?start=${start}`);
        if (stopped) return;
        if (r.logs.length) {
          start = r.start + r.logs.length;
          setEntries((e) => [...e, ...r.logs]);
        }
        setError(null);
      } catch (e) {
        if (stopped) return;
        setError(e);
      }
      if (!last) timer = setTimeout(read, POLL_MS);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [logsPath]);
  return { entries, error };
}

/** A build, polled until it reaches a final phase. */
export function useBuild(queryKey: unknown[], path: string) {
  return useQuery({
    queryKey,
    queryFn: () => api.get<Build>(path),
    refetchInterval: (q) => (q.state.data && FINAL_PHASES.includes(q.state.data.phase) ? false : POLL_MS),
  });
}

export const isFinal = (b: Build | undefined) => !!b && FINAL_PHASES.includes(b.phase);

export function BuildSummary({ build, showRepository = false }: { build: UseQueryResult<Build>; showRepository?: boolean }) {
  if (build.isLoading) return <Loading />;
  if (build.error) return <ErrorState error={build.error} />;
  const b = build.data!;
  const rows: [string, ReactNode][] = [
    ...(showRepository && b.repository
      ? [
          [
            'Repository',
            <Link key="repo" to={`/repository/${b.repository.namespace}/${b.repository.name}?tab=builds`}>{`${b.repository.namespace}/${b.repository.name}`}</Link>,
          ] as [string, ReactNode],
        ]
      : []),
    ['Started', dateTime(b.started)],
    ['Tags', b.tags.join(', ')],
    ['Triggered by', triggeredBy(b)],
  ];
  return (
    <DescriptionList isHorizontal isCompact>
      {rows.map(([term, value]) => (
        <DescriptionListGroup key={term}>
          <DescriptionListTerm>{term}</DescriptionListTerm>
          <DescriptionListDescription>{value}</DescriptionListDescription>
        </DescriptionListGroup>
      ))}
    </DescriptionList>
  );
}

/** Entries carry Quay's `data.datetime`, UTC written without a zone ("2024-05-01 12:00:00.123"). */
const timeOf = (e: LogEntry) => {
  const t = e.data?.datetime;
  if (typeof t !== 'string') return '';
  return dateTime(/^\d{4}-\d\d-\d\d[ T][\d:.]+$/.test(t) ? `${t.replace(' ', 'T')}Z` : t, '');
};

/** The log of a build as it grows, phases as headings; "Show timestamps" prefixes each entry with its time. */
export function BuildLogViewer({ logsPath, final }: { logsPath: string; final: boolean }) {
  const log = useBuildLog(logsPath, final);
  const [timestamps, setTimestamps] = useState(false);
  return (
    <>
      <Flex alignItems={{ default: 'alignItemsCenter' }} style={{ margin: '1.5rem 0 0.5rem' }}>
        <Title headingLevel="h2" size="lg">
          Build log
        </Title>
        <Checkbox id="build-log-timestamps" label="Show timestamps" isChecked={timestamps} onChange={(_e, v) => setTimestamps(v)} />
      </Flex>
      {log.error ? <ErrorState error={log.error} title="Unable to read the build log" /> : null}
      <pre className="quay-build-log" data-testid="build-log" aria-live="polite" aria-label="Build log" tabIndex={0}>
        {log.entries.length === 0
          ? final
            ? 'This build wrote no log.'
            : 'Waiting for the build to start…'
          : log.entries.map((e, i) => (
              <div key={i} className={e.type ? `quay-log-${e.type}` : undefined}>
                {timestamps && <span className="quay-log-time">{timeOf(e)}</span>}
                {e.type === 'phase' ? `— ${e.message} —` : e.message}
              </div>
            ))}
      </pre>
    </>
  );
}

export default function BuildLog({ namespace, repo, buildId }: { namespace: string; repo: string; buildId: string }) {
  const repository = useRepository(namespace, repo);
  const path = `${buildsPath({ namespace, name: repo })}${enc(buildId)}`;
  const build = useBuild(['build', namespace, repo, buildId], path);
  const final = isFinal(build.data);
  const run = useRunAction([
    ['build', namespace, repo, buildId],
    ['builds', namespace, repo],
  ]);
  const [cancelling, setCancelling] = useState(false);
  const b = build.data;
  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/repository">Repositories</Link>
          </BreadcrumbItem>
          <BreadcrumbItem>
            <Link to={`/repository/${namespace}/${repo}?tab=builds`}>
              {namespace}/{repo}
            </Link>
          </BreadcrumbItem>
          <BreadcrumbItem isActive>Build {buildId.slice(0, 8)}</BreadcrumbItem>
        </Breadcrumb>
        <Flex alignItems={{ default: 'alignItemsCenter' }} style={{ marginTop: '1rem' }}>
          <Title headingLevel="h1">Build {buildId}</Title>
          {b && <PhaseLabel phase={b.phase} />}
          {b?.phase === 'waiting' && repository.data?.can_admin && (
            <Button variant="danger" size="sm" onClick={() => setCancelling(true)}>
              Cancel build
            </Button>
          )}
        </Flex>
      </PageSection>
      <PageSection>
        <BuildSummary build={build} />
        <BuildLogViewer logsPath={`${path}/logs`} final={final} />
      </PageSection>
      {cancelling && (
        <FormModal
          title="Cancel build?"
          isOpen
          danger
          onClose={() => setCancelling(false)}
          submitLabel="Cancel build"
          onSubmit={() => run(`Cancelled build ${buildId.slice(0, 8)}`, () => api.del(path))}
        >
          <p>The build has not started yet; cancelling removes it from the queue.</p>
        </FormModal>
      )}
    </>
  );
}
