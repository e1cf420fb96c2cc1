/**
 * GitHub's, GitLab's and Bitbucket's REST APIs (the parts a build trigger uses) played on loopback over a real
 * git repository: branches, tags, trees, files and commits are read from the bare repository with git; OAuth
 * codes are exchanged for a token, and every API call must carry it (Bitbucket's tokens expire at once and
 * are refreshed, each refresh invalidating the previous one). Deploy keys and hooks created by the
 * registry are recorded; `onKey` lets the test install a created key in its SSH server (as the service would
 * trust it for clones), and `deliver` POSTs a push event to a recorded hook the way the service does (the
 * hook URL's userinfo as HTTP Basic). The OAuth authorize page answers as if the user clicked "Authorize":
 * it redirects to the app's `redirect_uri` (or the fixed `callbackUrl`) with the code (and the `state` it was given).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface FakeScm {
  url: string;
  token: string;
  code: string;
  keys: Map<number, Record<string, unknown>>;
  hooks: Map<number | string, Record<string, unknown>>;
  /** Where the authorize page returns when the request names no `redirect_uri` (Bitbucket: the consumer's callback). */
  callbackUrl?: string;
  /** Requests seen, as `METHOD path`. */
  calls: string[];
  close(): Promise<void>;
}

interface GitRepo {
  bare: string;
  sshUrl: string;
  defaultBranch: string;
}

const git = (bare: string, ...args: string[]) => execFileSync('git', ['-C', bare, ...args]).toString();

function refs(repo: GitRepo, kind: 'heads' | 'tags'): Array<{ name: string; sha: string }> {
  return git(repo.bare, 'for-each-ref', '--format=%(refname:short) %(objectname)', `refs/${kind}`)
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, sha] = l.split(' ');
      return { name, sha };
    });
}

function commitOf(repo: GitRepo, sha: string): { sha: string; date: string; email: string; message: string } | null {
  try {
    const [full, date, email, ...message] = git(repo.bare, 'log', '-1', '--format=%H%n%cI%n%ae%n%B', sha).split('\n');
    return { sha: full, date, email, message: message.join('\n').trim() };
  } catch {
    return null;
  }
}

/** Items of a list by `page`/`per_page` (default 2 here, so that the registry must follow the links). */
function page(req: IncomingMessage, res: ServerResponse, items: unknown[], base: string): unknown[] {
  const u = new URL(req.url!, base);
  const per = Math.min(Number(u.searchParams.get('per_page') ?? 2), 2);
  const n = Number(u.searchParams.get('page') ?? 1);
  if (n * per < items.length) {
    u.searchParams.set('page', String(n + 1));
    res.setHeader('link', `<${u.toString()}>; rel="next"`);
  }
  return items.slice((n - 1) * per, n * per);
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

type Handler = (req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, text: string) => unknown;

/** The token endpoint: an answer for a form POSTed to it (with the request, for HTTP Basic client auth). */
type Exchange = (req: IncomingMessage, form: URLSearchParams, fake: FakeScm) => { status: number; body: unknown };

/** GitHub's and GitLab's: the client's id and secret as form fields, one fixed token. */
const formExchange =
  (token: string): Exchange =>
  (_req, form, fake) =>
    form.get('client_id') !== 'trigger-client' || form.get('client_secret') !== 'trigger-secret' || form.get('code') !== fake.code
      ? { status: 401, body: { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' } }
      : { status: 200, body: { access_token: token, token_type: 'bearer' } };

async function serve(
  routes: Array<[string, RegExp, Handler]>,
  token: string,
  authOk: (header: string | undefined) => boolean,
  tokenPath: string,
  exchange: Exchange,
  authorizePath?: string,
): Promise<FakeScm> {
  const state = { keys: new Map(), hooks: new Map(), calls: [] as string[] };
  const server: Server = createServer(async (req, res) => {
    const path = req.url!.split('?')[0];
    state.calls.push(`${req.method} ${path}`);
    const text = await body(req);
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.method === 'POST' && path === tokenPath) {
      const answer = exchange(req, new URLSearchParams(text), fake);
      return send(answer.status, answer.body);
    }
    if (req.method === 'GET' && path === authorizePath) {
      const q = new URL(req.url!, fake.url).searchParams;
      const redirect = q.get('redirect_uri') ?? fake.callbackUrl;
      if (q.get('client_id') !== 'trigger-client' || !redirect) return send(400, { error: 'invalid_request' });
      state.calls.push(`authorize ${q.toString()}`);
      const back = new URL(redirect);
      back.searchParams.set('code', fake.code);
      if (q.get('state')) back.searchParams.set('state', q.get('state')!);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (!authOk(req.headers.authorization)) return send(401, { message: 'Bad credentials' });
    for (const [method, re, handler] of routes) {
      const m = method === req.method ? re.exec(path) : null;
      if (!m) continue;
      try {
        const out = handler(req, res, m, text);
        // The handler answered itself (raw file contents).
        if (res.writableEnded) return;
        if (out === undefined) return send(404, { message: 'Not Found' });
        if (out === null) {
          res.writeHead(204);
          return res.end();
        }
        return send(method === 'POST' ? 201 : 200, out);
      } catch (err) {
        return send(500, { message: String(err) });
      }
    }
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const fake: FakeScm = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    token,
    code: `code-${Math.random().toString(36).slice(2)}`,
    ...state,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
  return fake;
}

let nextId = 100;

/** GitHub: user `octo` (org `octo-org`), repository `octo/app` backed by `repo`; API under /api/v3. */
export async function fakeGithub(repo: GitRepo, onKey: (key: string) => void): Promise<FakeScm> {
  const base = () => fake.url;
  const repoView = { name: 'app', full_name: 'octo/app', description: 'the app', pushed_at: '2024-05-01T12:00:00Z', private: true, ssh_url: repo.sshUrl };
  const fullRepo = () => ({ ...repoView, html_url: `${base()}/octo/app`, default_branch: repo.defaultBranch });
  const user = (login: string) => ({ login, avatar_url: `${base()}/avatars/${login}`, html_url: `${base()}/${login}` });
  const R = '^/api/v3/repos/octo/app';
  const routes: Array<[string, RegExp, Handler]> = [
    ['GET', /^\/api\/v3\/user$/, () => ({ ...user('octo'), name: 'Octo Cat', plan: { private_repos: 7 } })],
    ['GET', /^\/api\/v3\/user\/orgs$/, (req, res) => page(req, res, [{ login: 'octo-org', avatar_url: `${base()}/avatars/octo-org` }], base())],
    [
      'GET',
      /^\/api\/v3\/user\/repos$/,
      (req, res) =>
        page(
          req,
          res,
          [fullRepo(), ...['one', 'two'].map((n) => ({ ...fullRepo(), name: n, full_name: `octo/${n}`, private: false, description: null, pushed_at: null }))],
          base(),
        ),
    ],
    ['GET', /^\/api\/v3\/orgs\/octo-org\/repos$/, (req, res) => page(req, res, [{ ...fullRepo(), name: 'shared', full_name: 'octo-org/shared' }], base())],
    ['GET', new RegExp(`${R}$`), () => fullRepo()],
    [
      'GET',
      new RegExp(`${R}/branches$`),
      (req, res) =>
        page(
          req,
          res,
          refs(repo, 'heads').map((b) => ({ name: b.name, commit: { sha: b.sha } })),
          base(),
        ),
    ],
    [
      'GET',
      new RegExp(`${R}/branches/(.+)$`),
      (_q, _s, m) => {
        const b = refs(repo, 'heads').find((x) => x.name === decodeURIComponent(m[1]));
        return b ? { name: b.name, commit: { sha: b.sha } } : undefined;
      },
    ],
    [
      'GET',
      new RegExp(`${R}/tags$`),
      (req, res) =>
        page(
          req,
          res,
          refs(repo, 'tags').map((t) => ({ name: t.name, commit: { sha: t.sha } })),
          base(),
        ),
    ],
    [
      'GET',
      new RegExp(`${R}/git/trees/([0-9a-f]{40})$`),
      (_q, _s, m) => ({
        sha: m[1],
        tree: git(repo.bare, 'ls-tree', '-r', '-t', m[1])
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const [meta, path] = l.split('\t');
            return { path, type: meta.split(' ')[1] };
          }),
      }),
    ],
    [
      'GET',
      new RegExp(`${R}/contents/(.+)$`),
      (_q, _s, m) => {
        try {
          const content = execFileSync('git', ['-C', repo.bare, 'show', `${repo.defaultBranch}:${decodeURIComponent(m[1])}`], { stdio: ['ignore', 'pipe', 'ignore'] });
          return { type: 'file', encoding: 'base64', content: content.toString('base64') };
        } catch {
          return undefined;
        }
      },
    ],
    [
      'GET',
      new RegExp(`${R}/commits/([0-9a-f]{40})$`),
      (_q, _s, m) => {
        const c = commitOf(repo, m[1]);
        if (!c) return undefined;
        return {
          sha: c.sha,
          html_url: `${base()}/octo/app/commit/${c.sha}`,
          commit: { message: c.message, committer: { date: c.date } },
          author: user('octo'),
          committer: user('web-flow'),
        };
      },
    ],
    [
      'POST',
      new RegExp(`${R}/keys$`),
      (_q, _s, _m, text) => {
        const k = JSON.parse(text) as { title: string; key: string };
        const id = nextId++;
        fake.keys.set(id, k);
        onKey(k.key);
        return { id, ...k, read_only: false };
      },
    ],
    ['DELETE', new RegExp(`${R}/keys/(\\d+)$`), (_q, _s, m) => (fake.keys.delete(Number(m[1])) ? null : undefined)],
    [
      'POST',
      new RegExp(`${R}/hooks$`),
      (_q, _s, _m, text) => {
        const h = JSON.parse(text) as Record<string, unknown>;
        const id = nextId++;
        fake.hooks.set(id, h);
        return { id, ...h };
      },
    ],
    ['DELETE', new RegExp(`${R}/hooks/(\\d+)$`), (_q, _s, m) => (fake.hooks.delete(Number(m[1])) ? null : undefined)],
  ];
  const fake = await serve(routes, 'gh-oauth-token', (h) => h === 'token gh-oauth-token', '/login/oauth/access_token', formExchange('gh-oauth-token'), '/login/oauth/authorize');
  return fake;
}

/** GitLab: user `gl-user` (id 7), group `team` (id 42), project `team/app` (id 5) backed by `repo`; API under /api/v4. */
export async function fakeGitlab(repo: GitRepo, onKey: (key: string) => void): Promise<FakeScm> {
  const base = () => fake.url;
  const project = () => ({
    id: 5,
    path: 'app',
    path_with_namespace: 'team/app',
    description: null,
    web_url: `${base()}/team/app`,
    visibility: 'private',
    last_activity_at: '2024-05-01T12:00:00.000Z',
    default_branch: repo.defaultBranch,
    ssh_url_to_repo: repo.sshUrl,
    permissions: { project_access: null, group_access: { access_level: 50 } },
  });
  const P = '^/api/v4/projects/(?:5|team%2Fapp)';
  const refRoute =
    (kind: 'heads' | 'tags'): Handler =>
    (_q, _s, m) => {
      const r = refs(repo, kind).find((x) => x.name === decodeURIComponent(m[1]));
      return r ? { name: r.name, commit: { id: r.sha } } : undefined;
    };
  const routes: Array<[string, RegExp, Handler]> = [
    ['GET', /^\/api\/v4\/user$/, () => ({ id: 7, username: 'gl-user' })],
    [
      'GET',
      /^\/api\/v4\/namespaces$/,
      (req, res) =>
        page(
          req,
          res,
          [
            { id: 7, name: 'gl-user', kind: 'user', avatar_url: null, web_url: `${base()}/gl-user` },
            { id: 42, name: 'team', kind: 'group', avatar_url: `${base()}/team.png`, web_url: `${base()}/groups/team` },
          ],
          base(),
        ),
    ],
    ['GET', /^\/api\/v4\/namespaces\/42$/, () => ({ id: 42, kind: 'group' })],
    ['GET', /^\/api\/v4\/namespaces\/7$/, () => ({ id: 7, kind: 'user' })],
    ['GET', /^\/api\/v4\/groups\/42\/projects$/, (req, res) => page(req, res, [project()], base())],
    ['GET', /^\/api\/v4\/users\/7\/projects$/, (req, res) => page(req, res, [], base())],
    [
      'GET',
      /^\/api\/v4\/users$/,
      (req) => (new URL(req.url!, base()).searchParams.get('search') === 'dev@example.com' ? [{ username: 'dev', web_url: `${base()}/dev`, avatar_url: `${base()}/dev.png` }] : []),
    ],
    ['GET', new RegExp(`${P}$`), () => project()],
    [
      'GET',
      new RegExp(`${P}/repository/branches$`),
      (req, res) =>
        page(
          req,
          res,
          refs(repo, 'heads').map((b) => ({ name: b.name, commit: { id: b.sha } })),
          base(),
        ),
    ],
    ['GET', new RegExp(`${P}/repository/branches/(.+)$`), refRoute('heads')],
    [
      'GET',
      new RegExp(`${P}/repository/tags$`),
      (req, res) =>
        page(
          req,
          res,
          refs(repo, 'tags').map((t) => ({ name: t.name, commit: { id: t.sha } })),
          base(),
        ),
    ],
    ['GET', new RegExp(`${P}/repository/tags/(.+)$`), refRoute('tags')],
    [
      'GET',
      new RegExp(`${P}/repository/tree$`),
      (req, res) => {
        const ref = new URL(req.url!, base()).searchParams.get('ref')!;
        const entries = git(repo.bare, 'ls-tree', ref)
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const [meta, name] = l.split('\t');
            return { name, path: name, type: meta.split(' ')[1] };
          });
        return page(req, res, entries, base());
      },
    ],
    [
      'GET',
      new RegExp(`${P}/repository/files/(.+)$`),
      (req, _s, m) => {
        const ref = new URL(req.url!, base()).searchParams.get('ref')!;
        try {
          const content = execFileSync('git', ['-C', repo.bare, 'show', `${ref}:${decodeURIComponent(m[1])}`], { stdio: ['ignore', 'pipe', 'ignore'] });
          return { file_path: decodeURIComponent(m[1]), encoding: 'base64', content: content.toString('base64') };
        } catch {
          return undefined;
        }
      },
    ],
    [
      'GET',
      new RegExp(`${P}/repository/commits/([0-9a-f]{40})$`),
      (_q, _s, m) => {
        const c = commitOf(repo, m[1]);
        return c ? { id: c.sha, message: c.message, web_url: `${base()}/team/app/-/commit/${c.sha}`, committed_date: c.date, author_email: c.email } : undefined;
      },
    ],
    [
      'POST',
      new RegExp(`${P}/deploy_keys$`),
      (_q, _s, _m, text) => {
        const k = JSON.parse(text) as { title: string; key: string };
        const id = nextId++;
        fake.keys.set(id, k);
        onKey(k.key);
        return { id, ...k };
      },
    ],
    ['DELETE', new RegExp(`${P}/deploy_keys/(\\d+)$`), (_q, _s, m) => (fake.keys.delete(Number(m[1])) ? null : undefined)],
    [
      'POST',
      new RegExp(`${P}/hooks$`),
      (_q, _s, _m, text) => {
        const h = JSON.parse(text) as Record<string, unknown>;
        const id = nextId++;
        fake.hooks.set(id, h);
        return { id, ...h };
      },
    ],
    ['DELETE', new RegExp(`${P}/hooks/(\\d+)$`), (_q, _s, m) => (fake.hooks.delete(Number(m[1])) ? null : undefined)],
  ];
  const fake = await serve(routes, 'gl-oauth-token', (h) => h === 'Bearer gl-oauth-token', '/oauth/token', formExchange('gl-oauth-token'), '/oauth/authorize');
  return fake;
}

/**
 * Bitbucket Cloud (API 2.0 under /2.0, OAuth 2 under /site/oauth2): user `bb-user`, workspaces `bb-user` (repositories
 * `app`, backed by `repo`, and `other`) and `team-ws` (`shared`); the account administers `bb-user/app` only. Lists are
 * paged in the body (`values`, `next`) two items a page. Access tokens last 30 s, so the registry refreshes them
 * before each use; `refreshes` counts that.
 */
export async function fakeBitbucket(repo: GitRepo, onKey: (key: string) => void): Promise<FakeScm & { refreshes: number }> {
  const base = () => fake.url;
  let access = 'bb-access-0';
  let issued = 0;
  const refresh = 'bb-refresh-token';
  const workspaceRepo = (ws: string, slug: string, extra: Record<string, unknown> = {}) => ({
    slug,
    name: slug,
    full_name: `${ws}/${slug}`,
    description: '',
    updated_on: '2024-05-01T12:00:00.000000+00:00',
    is_private: true,
    mainbranch: { name: repo.defaultBranch, type: 'branch' },
    workspace: { slug: ws },
    links: { html: { href: `${base()}/${ws}/${slug}` }, avatar: { href: `${base()}/avatars/${ws}/${slug}` }, clone: [{ name: 'https', href: `${base()}/${ws}/${slug}.git` }] },
    ...extra,
  });
  const app = () =>
    workspaceRepo('bb-user', 'app', {
      description: 'the app',
      links: {
        html: { href: `${base()}/bb-user/app` },
        avatar: { href: `${base()}/avatars/bb-user/app` },
        clone: [
          { name: 'https', href: `${base()}/bb-user/app.git` },
          { name: 'ssh', href: repo.sshUrl },
        ],
      },
    });
  /** Bitbucket's pages: `pagelen` (at most 2 here) items, `next` the absolute URL of the following page. */
  const values = (req: IncomingMessage, items: unknown[]) => {
    const u = new URL(req.url!, base());
    const per = Math.min(Number(u.searchParams.get('pagelen') ?? 2), 2);
    const n = Number(u.searchParams.get('page') ?? 1);
    const out: Record<string, unknown> = { values: items.slice((n - 1) * per, n * per), page: n, pagelen: per, size: items.length };
    if (n * per < items.length) {
      u.searchParams.set('page', String(n + 1));
      out.next = u.toString();
    }
    return out;
  };
  const target = (sha: string) => {
    const c = commitOf(repo, sha)!;
    return {
      type: 'commit',
      hash: c.sha,
      message: `${c.message}\n`,
      date: c.date,
      author: { raw: `dev <${c.email}>`, user: { display_name: 'BB User', account_id: 'bb-1', links: { avatar: { href: `${base()}/avatars/bb-user` } } } },
      links: { html: { href: `${base()}/bb-user/app/commits/${c.sha}` } },
    };
  };
  const refList =
    (kind: 'heads' | 'tags'): Handler =>
    (req) =>
      values(
        req,
        refs(repo, kind).map((r) => ({ name: r.name, target: target(r.sha) })),
      );
  const refOne =
    (kind: 'heads' | 'tags'): Handler =>
    (_q, _s, m) => {
      const r = refs(repo, kind).find((x) => x.name === decodeURIComponent(m[1]));
      return r ? { name: r.name, target: target(r.sha) } : undefined;
    };
  const R = '^/2\\.0/repositories/bb-user/app';
  const routes: Array<[string, RegExp, Handler]> = [
    ['GET', /^\/2\.0\/user$/, () => ({ username: 'bb-user', display_name: 'BB User', account_id: 'bb-1' })],
    [
      'GET',
      /^\/2\.0\/repositories$/,
      (req) =>
        new URL(req.url!, base()).searchParams.get('role') === 'member' ? values(req, [app(), workspaceRepo('bb-user', 'other'), workspaceRepo('team-ws', 'shared')]) : undefined,
    ],
    ['GET', /^\/2\.0\/user\/permissions\/repositories$/, (req) => values(req, [{ permission: 'admin', repository: { full_name: 'bb-user/app' } }])],
    ['GET', new RegExp(`${R}$`), () => app()],
    ['GET', new RegExp(`${R}/refs/branches$`), refList('heads')],
    ['GET', new RegExp(`${R}/refs/branches/(.+)$`), refOne('heads')],
    ['GET', new RegExp(`${R}/refs/tags$`), refList('tags')],
    ['GET', new RegExp(`${R}/refs/tags/(.+)$`), refOne('tags')],
    [
      'GET',
      new RegExp(`${R}/src/([^/]+)/$`),
      (req, _s, m) =>
        values(
          req,
          git(repo.bare, 'ls-tree', decodeURIComponent(m[1]))
            .split('\n')
            .filter(Boolean)
            .map((l) => {
              const [meta, path] = l.split('\t');
              return { path, type: meta.split(' ')[1] === 'tree' ? 'commit_directory' : 'commit_file' };
            }),
        ),
    ],
    [
      'GET',
      new RegExp(`${R}/src/([^/]+)/(.+)$`),
      (_q, res, m) => {
        try {
          const content = execFileSync('git', ['-C', repo.bare, 'show', `${decodeURIComponent(m[1])}:${decodeURIComponent(m[2])}`], { stdio: ['ignore', 'pipe', 'ignore'] });
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(content);
          return content;
        } catch {
          return undefined;
        }
      },
    ],
    [
      'POST',
      new RegExp(`${R}/deploy-keys$`),
      (_q, _s, _m, text) => {
        const k = JSON.parse(text) as { label: string; key: string };
        const id = nextId++;
        fake.keys.set(id, k);
        onKey(k.key);
        return { id, ...k, type: 'deploy_key' };
      },
    ],
    ['DELETE', new RegExp(`${R}/deploy-keys/(\\d+)$`), (_q, _s, m) => (fake.keys.delete(Number(m[1])) ? null : undefined)],
    [
      'POST',
      new RegExp(`${R}/hooks$`),
      (_q, _s, _m, text) => {
        const h = JSON.parse(text) as Record<string, unknown>;
        const uuid = `{${randomUUID()}}`;
        fake.hooks.set(uuid, h);
        return { uuid, ...h };
      },
    ],
    ['DELETE', new RegExp(`${R}/hooks/([^/]+)$`), (_q, _s, m) => (fake.hooks.delete(decodeURIComponent(m[1])) ? null : undefined)],
  ];
  /** Client id and secret as HTTP Basic; an authorization code or the refresh token gets a fresh 30-second token. */
  const exchange: Exchange = (req, form, f) => {
    if (req.headers.authorization !== `Basic ${Buffer.from('trigger-client:trigger-secret').toString('base64')}`) return { status: 401, body: { error: 'invalid_client' } };
    const grant = form.get('grant_type');
    const good = (grant === 'authorization_code' && form.get('code') === f.code) || (grant === 'refresh_token' && form.get('refresh_token') === refresh);
    if (!good) return { status: 400, body: { error: 'invalid_grant', error_description: 'The code is invalid or expired.' } };
    if (grant === 'refresh_token') fake.refreshes++;
    access = `bb-access-${++issued}`;
    return { status: 200, body: { access_token: access, refresh_token: refresh, expires_in: 30, token_type: 'bearer', scopes: 'repository:admin webhook' } };
  };
  const fake = Object.assign(await serve(routes, '', (h) => h === `Bearer ${access}`, '/site/oauth2/access_token', exchange, '/site/oauth2/authorize'), { refreshes: 0 });
  return fake;
}

/** POST an event to a hook URL as the service does: its userinfo as HTTP Basic, JSON body, the event header. */
export async function deliver(hookUrl: string, event: Record<string, string>, payload: unknown): Promise<{ status: number; text: string }> {
  const u = new URL(hookUrl);
  const auth = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  const r = await fetch(`${u.protocol}//${u.host}${u.pathname}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${auth}`, ...event },
    body: JSON.stringify(payload),
  });
  return { status: r.status, text: await r.text() };
}
