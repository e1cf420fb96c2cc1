/**
 * The build-status badge of a repository (Quay's endpoints/web.py build_status_badge): what its latest build
 * says, shown to anyone for a public repository and to holders of its badge token for a private one.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Repositories } from './repositories.js';
import type { Builds } from './builds.js';
import type { RepoRef } from '../oci/names.js';

export type BadgeStatus = 'ready' | 'failed' | 'cancelled' | 'building' | 'none';

const sameToken = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The badge's status, or null when the repository does not exist, is not an image repository, or the token is wrong. */
export async function repositoryBadge(repositories: Repositories, builds: Builds, ref: RepoRef, token: string | undefined): Promise<BadgeStatus | null> {
  const { repo } = await repositories.lookup(ref);
  if (!repo || repo.kind !== 'image') return null;
  if (repo.visibility !== 'public' && (token === undefined || !sameToken(token, repo.badge_token))) return null;
  const [latest] = await builds.listBuilds(repo.id, { limit: 1 });
  if (!latest) return 'none';
  if (latest.phase === 'complete') return 'ready';
  if (latest.phase === 'error') return 'failed';
  if (latest.phase === 'cancelled') return 'cancelled';
  return 'building';
}

const COLORS: Record<BadgeStatus, string> = { ready: '#2ca02c', failed: '#d62728', cancelled: '#7f7f7f', building: '#1f77b4', none: '#969696' };

/** A two-part SVG badge: "container" on the left, the status on the right. */
export function badgeSvg(status: BadgeStatus): string {
  const label = 'container';
  const [lw, rw] = [label.length * 7 + 10, status.length * 7 + 10];
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${lw + rw}" height="20" role="img" aria-label="${label}: ${status}">` +
    `<rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${rw}" height="20" fill="${COLORS[status]}"/>` +
    `<g fill="#fff" font-family="Verdana,sans-serif" font-size="11" text-anchor="middle">` +
    `<text x="${lw / 2}" y="14">${label}</text><text x="${lw + rw / 2}" y="14">${status}</text></g></svg>`
  );
}
