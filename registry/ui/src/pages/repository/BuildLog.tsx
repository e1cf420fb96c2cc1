/**
 * A build's page (`/repository/{ns}/{repo}/build/{id}`): its phase, tags and trigger, and its log, read
 * incrementally (`logs?start=N`) every two seconds until the build reaches a final phase.
 */
import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router-dom';
import {
  Breadcrumb,
  BreadcrumbItem,
  Button,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  PageSection,
  Title,
} from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { dateTime } from '../../api/format';
import { ErrorState, FormModal, Loading } from '../../components/common';
import { useRunAction } from '../../components/runAction';
import { useRepository } from './RepositoryDetails';
import { buildsPath, FINAL_PHASES, PhaseLabel, type Build } from './Builds';

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
function useBuildLog(path: string, final: boolean) {
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
        const r = await api.get<{ start: number; total: number; logs: LogEntry[] }>(`${path}/logs?start=${start}`);
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
  }, [path]);
  return { entries, error };
}

export default function BuildLog({ namespace, repo, buildId }: { namespace: string; repo: string; buildId: string }) {
  const repository = useRepository(namespace, repo);
  const path = `${buildsPath({ namespace, name: repo })}${enc(buildId)}`;
  const build = useQuery({
    queryKey: ['build', namespace, repo, buildId],
    queryFn: () => api.get<Build>(path),
    refetchInterval: (q) => (q.state.data && FINAL_PHASES.includes(q.state.data.phase) ? false : POLL_MS),
  });
  const final = !!build.data && FINAL_PHASES.includes(build.data.phase);
  const log = useBuildLog(path, final);
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
        {build.isLoading ? (
          <Loading />
        ) : build.error ? (
          <ErrorState error={build.error} />
        ) : (
          <DescriptionList isHorizontal isCompact>
            <DescriptionListGroup>
              <DescriptionListTerm>Started</DescriptionListTerm>
              <DescriptionListDescription>{dateTime(b!.started)}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Tags</DescriptionListTerm>
              <DescriptionListDescription>{b!.tags.join(', ')}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Triggered by</DescriptionListTerm>
              <DescriptionListDescription>{b!.manual_user ?? b!.trigger?.service ?? '—'}</DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
        )}
        <Title headingLevel="h2" size="lg" style={{ margin: '1.5rem 0 0.5rem' }}>
          Build log
        </Title>
        {log.error ? <ErrorState error={log.error} title="Unable to read the build log" /> : null}
        <pre className="quay-build-log" data-testid="build-log" aria-live="polite" aria-label="Build log" tabIndex={0}>
          {log.entries.length === 0
            ? final
              ? 'This build wrote no log.'
              : 'Waiting for the build to start…'
            : log.entries.map((e, i) => (
                <div key={i} className={e.type ? `quay-log-${e.type}` : undefined}>
                  {e.type === 'phase' ? `— ${e.message} —` : e.message}
                </div>
              ))}
        </pre>
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
