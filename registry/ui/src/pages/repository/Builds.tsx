/**
 * Builds tab: the repository's build history (Recent builds, Last 48 hours or Last 30 days, as Quay's filter;
 * pages of 25 read from the server with `next_page`; refreshed while a build on the page is unfinished),
 * "Start New Build" from an uploaded Dockerfile or archive (filedrop, then the build request) or an archive
 * URL, and Cancel for builds that have not started. Each build links to its log page.
 */
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { Button, Flex, FormGroup, FormSelect, FormSelectOption, Label, Radio, TextInput, ToolbarItem } from '@patternfly/react-core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, enc, repoPath, request } from '../../api/client';
import { dateTime } from '../../api/format';
import ListWithActions from '../../components/ListWithActions';
import BuildTriggers from './BuildTriggers';
import { SERVICE_TITLE } from './triggerParts';
import type { Repository } from './types';

export interface Build {
  id: string;
  phase: string;
  started: string;
  display_name: string;
  tags: string[];
  manual_user: string | null;
  trigger: { service?: string; id?: string } | null;
  trigger_metadata?: { commit?: string; ref?: string } | null;
  archive_url?: string;
  repository?: { namespace: string; name: string };
}

/** Phases after which nothing changes any more. */
export const FINAL_PHASES = ['complete', 'error', 'cancelled', 'expired'];
/** Phases in which a build can still be cancelled (it has not reached a builder). */
const CANCELLABLE = ['waiting'];

const PHASE_COLOR: Record<string, 'green' | 'red' | 'grey' | 'blue' | 'orange'> = {
  complete: 'green',
  error: 'red',
  expired: 'red',
  internalerror: 'red',
  cancelled: 'grey',
  waiting: 'orange',
};

export function PhaseLabel({ phase }: { phase: string }) {
  return (
    <Label color={PHASE_COLOR[phase] ?? 'blue'} data-testid="build-phase">
      {phase}
    </Label>
  );
}

/**
 * Who or what started a build: its user for a manual build; for a trigger's build the service, the branch or
 * tag and the commit (and the user who ran the trigger by hand).
 */
export function triggeredBy(b: Build): string {
  if (!b.trigger?.service) return b.manual_user ?? '—';
  const meta = b.trigger_metadata ?? {};
  const ref = meta.ref?.replace(/^refs\/(heads|tags)\//, '');
  const what = [SERVICE_TITLE[b.trigger.service] ?? b.trigger.service, ref, meta.commit ? `@ ${meta.commit.slice(0, 7)}` : ''].filter(Boolean).join(' ');
  return b.manual_user ? `${what} (run by ${b.manual_user})` : what;
}

export const buildsPath = (repo: Pick<Repository, 'namespace' | 'name'>) => `${repoPath(repo.namespace, repo.name)}/build/`;

/** Upload a build pack the way Quay's UI does: ask for a drop URL, PUT the bytes there, name the file id. */
async function uploadPack(file: File): Promise<string> {
  const mimeType = file.type || 'application/octet-stream';
  const drop = await api.post<{ url: string; file_id: string }>('/filedrop/', { mimeType });
  // The URL names SERVER_HOSTNAME; the page's own origin is the same registry and the one CSP allows.
  await request('PUT', new URL(drop.url).pathname, { raw: file, contentType: mimeType });
  return drop.file_id;
}

const PAGE_SIZE = 25;
/** Quay's history filter: the newest builds, or those started within a window (`since`). */
const WINDOWS: Record<string, { label: string; seconds: number | null }> = {
  recent: { label: 'Recent builds', seconds: null },
  '48h': { label: 'Last 48 hours', seconds: 48 * 3600 },
  '30d': { label: 'Last 30 days', seconds: 30 * 86400 },
};

type BuildPage = { builds: Build[]; next_page?: string };

export default function Builds({ repo }: { repo: Repository }) {
  const base = buildsPath(repo);
  const key = ['builds', repo.namespace, repo.name];
  const [windowKey, setWindowKey] = useState('recent');
  // Tokens of the pages visited so far: pages[i] reads page i+1 (the first page needs none).
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const [since, setSince] = useState<number | null>(null);
  const pageIndex = pages.length - 1;
  const q = useQuery({
    queryKey: [...key, since, pages[pageIndex]],
    queryFn: () => {
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (since !== null) params.set('since', String(since));
      if (pages[pageIndex]) params.set('next_page', pages[pageIndex]!);
      return api.get<BuildPage>(`${base}?${params}`);
    },
    placeholderData: keepPreviousData,
    refetchInterval: (query) => (query.state.data?.builds.some((b) => !FINAL_PHASES.includes(b.phase)) ? 5000 : false),
  });
  const chooseWindow = (k: string) => {
    setWindowKey(k);
    const seconds = WINDOWS[k].seconds;
    setSince(seconds === null ? null : Math.floor(Date.now() / 1000) - seconds);
    setPages([undefined]);
  };
  const pageQuery = { data: q.data?.builds, isLoading: q.isLoading, error: q.error };
  const [source, setSource] = useState<'upload' | 'url'>('upload');
  const [file, setFile] = useState<File | null>(null);
  const [archiveUrl, setArchiveUrl] = useState('');
  const [tags, setTags] = useState('latest');
  const [dockerfilePath, setDockerfilePath] = useState('/Dockerfile');
  const [context, setContext] = useState('/');
  const dockerTags = tags.split(/[\s,]+/).filter(Boolean);
  return (
    <div style={{ paddingTop: '1rem' }}>
      <ListWithActions<Build>
        label="Build history"
        query={pageQuery}
        rowKey={(b) => b.id}
        columns={[
          { title: 'Build ID', cell: (b) => <Link to={`/repository/${repo.namespace}/${repo.name}/build/${b.id}`}>{b.id.slice(0, 8)}</Link> },
          { title: 'Status', cell: (b) => <PhaseLabel phase={b.phase} /> },
          { title: 'Triggered by', cell: triggeredBy },
          { title: 'Date started', cell: (b) => dateTime(b.started) },
          { title: 'Tags', cell: (b) => b.tags.join(', ') },
        ]}
        actions={
          repo.can_admin
            ? (b) =>
                CANCELLABLE.includes(b.phase)
                  ? [
                      {
                        title: 'Cancel build',
                        confirm: () => `Cancel build ${b.id.slice(0, 8)}? It has not started yet.`,
                        run: () => api.del(`${base}${enc(b.id)}`),
                        done: () => `Cancelled build ${b.id.slice(0, 8)}`,
                      },
                    ]
                  : []
            : undefined
        }
        create={
          repo.can_write
            ? {
                label: 'Start New Build',
                submitDisabled:
                  (source === 'upload' ? !file : !/^https?:\/\//.test(archiveUrl)) || dockerTags.length === 0 || !dockerfilePath.startsWith('/') || !context.startsWith('/'),
                onSubmit: async () => {
                  const input = source === 'upload' ? { file_id: await uploadPack(file!) } : { archive_url: archiveUrl };
                  // Within an archive: where its Dockerfile is and which directory is the context (server defaults otherwise).
                  const paths = { ...(dockerfilePath !== '/Dockerfile' ? { dockerfile_path: dockerfilePath } : {}), ...(context !== '/' ? { context } : {}) };
                  return api.post<Build>(base, { ...input, ...paths, docker_tags: dockerTags });
                },
                done: (b) => `Build ${(b as Build).id.slice(0, 8)} queued`,
                onClose: () => {
                  setFile(null);
                  setArchiveUrl('');
                },
                fields: (
                  <>
                    <FormGroup role="radiogroup" fieldId="build-source" label="Build from" isStack>
                      <Radio
                        id="build-upload"
                        name="build-source"
                        label="Upload a Dockerfile or an archive (.tar.gz, .zip)"
                        isChecked={source === 'upload'}
                        onChange={() => setSource('upload')}
                      />
                      <Radio id="build-url" name="build-source" label="Archive URL" isChecked={source === 'url'} onChange={() => setSource('url')} />
                    </FormGroup>
                    {source === 'upload' ? (
                      <FormGroup label="Dockerfile or archive" fieldId="build-file" isRequired>
                        <input id="build-file" type="file" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
                      </FormGroup>
                    ) : (
                      <FormGroup label="Archive URL (http or https)" fieldId="build-archive-url" isRequired>
                        <TextInput id="build-archive-url" type="url" value={archiveUrl} onChange={(_e, v) => setArchiveUrl(v)} />
                      </FormGroup>
                    )}
                    <FormGroup label="Dockerfile path" fieldId="build-dockerfile-path">
                      <TextInput id="build-dockerfile-path" value={dockerfilePath} onChange={(_e, v) => setDockerfilePath(v)} />
                    </FormGroup>
                    <FormGroup label="Context" fieldId="build-context">
                      <TextInput id="build-context" value={context} onChange={(_e, v) => setContext(v)} />
                    </FormGroup>
                    <FormGroup label="Tags (comma separated)" fieldId="build-tags" isRequired>
                      <TextInput id="build-tags" value={tags} onChange={(_e, v) => setTags(v)} />
                    </FormGroup>
                  </>
                ),
              }
            : undefined
        }
        toolbar={
          <>
            <ToolbarItem>
              <FormSelect id="build-history-window" aria-label="Show builds" value={windowKey} onChange={(_e, v) => chooseWindow(v)}>
                {Object.entries(WINDOWS).map(([k, w]) => (
                  <FormSelectOption key={k} value={k} label={w.label} />
                ))}
              </FormSelect>
            </ToolbarItem>
            <ToolbarItem align={{ default: 'alignEnd' }}>
              <Flex alignItems={{ default: 'alignItemsCenter' }} spaceItems={{ default: 'spaceItemsSm' }}>
                <Button variant="plain" aria-label="Previous page" isDisabled={pageIndex === 0} onClick={() => setPages((p) => p.slice(0, -1))}>
                  ‹
                </Button>
                <span data-testid="build-history-page">Page {pageIndex + 1}</span>
                <Button variant="plain" aria-label="Next page" isDisabled={!q.data?.next_page || q.isPlaceholderData} onClick={() => setPages((p) => [...p, q.data!.next_page])}>
                  ›
                </Button>
              </Flex>
            </ToolbarItem>
          </>
        }
        empty={{ title: 'No builds', body: 'Builds run a Dockerfile and push the image to this repository.' }}
        invalidates={[key]}
      />
      {repo.can_admin && <BuildTriggers repo={repo} />}
    </div>
  );
}
