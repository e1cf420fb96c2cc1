/**
 * `/repository/:ns/*`: the tail is a (possibly nested) repository name, optionally `/tag/:tag`,
 * `/manifest/:digest`, `/build/:id` or `/trigger/:uuid` (where the SCM OAuth callback returns: the Builds tab
 * opens that trigger's setup wizard).
 */
import { lazy } from 'react';
import { Navigate, useParams } from 'react-router-dom';
import RepositoryDetails from './RepositoryDetails';

const TagDetails = lazy(() => import('./TagDetails'));
const BuildLog = lazy(() => import('./BuildLog'));

export default function RepositoryRouter() {
  const { organizationName = '', '*': tail = '' } = useParams();
  const tag = /^(.+)\/tag\/([^/]+)$/.exec(tail);
  if (tag) return <TagDetails namespace={organizationName} repo={tag[1]} tag={decodeURIComponent(tag[2])} />;
  const manifest = /^(.+)\/manifest\/([^/]+)$/.exec(tail);
  if (manifest) return <TagDetails namespace={organizationName} repo={manifest[1]} digest={decodeURIComponent(manifest[2])} />;
  const build = /^(.+)\/build\/([^/]+)$/.exec(tail);
  if (build) return <BuildLog namespace={organizationName} repo={build[1]} buildId={decodeURIComponent(build[2])} />;
  const trigger = /^(.+)\/trigger\/([^/]+)$/.exec(tail);
  if (trigger) return <Navigate to={`/repository/${organizationName}/${trigger[1]}?tab=builds&setupTrigger=${encodeURIComponent(trigger[2])}`} replace />;
  return <RepositoryDetails namespace={organizationName} repo={tail.replace(/\/$/, '')} />;
}
