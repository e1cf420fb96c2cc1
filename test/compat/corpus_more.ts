/**
 * More pairs of the compatibility corpus (see corpus.ts for the format): the served endpoints of Quay 3.8's
 * team, superuser, user, robot, permission, globalmessages, search, appspecifictokens, discovery, error and
 * organization (not proxy cache) resources, and the internal ones. Replayed after corpus.ts's pairs, in order;
 * they make the namespaces they use.
 */
import type { CompatPair } from './corpus.js';

export const CORPUS_MORE: CompatPair[] = [
  {
    cite: 'endpoints/api/superuser.py ChangeLog.get (the CHANGELOG.md shipped with the registry)',
    request: { method: 'GET', path: '/api/v1/superuser/changelog/' },
    response: { status: 200, type: 'application/json', keys: { log: 'string' }, texts: { log: '# quay-ts change log' } },
  },
];
