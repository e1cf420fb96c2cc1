/**
 * The repository page's first queries, in the entry bundle: the route starts them while the page's own code
 * is still loading (the page then finds them in flight or answered instead of asking after its chunks).
 */
import type { QueryClient } from '@tanstack/react-query';
import { api, repoPath } from '../../api/client';
import type { Repository, TagPage } from './types';

export const TAGS_PER_PAGE = 100;

export function repositoryQuery(namespace: string, repo: string) {
  return {
    queryKey: ['repository', namespace, repo],
    // Prefetched by the route; not asked again as the page mounts (changes invalidate it).
    staleTime: 10_000,
    queryFn: () => api.get<Repository>(`${repoPath(namespace, repo)}?includeStats=false&includeTags=false`),
  };
}

/** One page of active tags. */
export function tagPageQuery(namespace: string, name: string, page: number, filter: string) {
  return {
    queryKey: ['tags', namespace, name, page, filter],
    // Prefetched with the repository; a page this fresh is not asked again when the tab mounts.
    staleTime: 10_000,
    queryFn: () => {
      const p = new URLSearchParams({ limit: String(TAGS_PER_PAGE), page: String(page), onlyActiveTags: 'true' });
      if (filter) p.set('filter_tag_name', `like:${filter}`);
      return api.get<TagPage>(`${repoPath(namespace, name)}/tag/?${p}`);
    },
  };
}

/** `/repository/{ns}/{repo}[?tab=tags]` (not a tag, manifest or build page): its repository and first tag page. */
export function prefetchRepositoryPage(qc: QueryClient, namespace: string, tail: string, search: string): void {
  if (/\/(tag|manifest|build)\/[^/]+$/.test(tail) || !tail) return;
  const repo = tail.replace(/\/$/, '');
  void qc.prefetchQuery(repositoryQuery(namespace, repo));
  if ((new URLSearchParams(search).get('tab') ?? '').toLowerCase() === 'tags') void qc.prefetchQuery(tagPageQuery(namespace, repo, 1, ''));
}
