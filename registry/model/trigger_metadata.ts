/**
 * What a push webhook says about the commit to build, as Quay derives it (buildtrigger/*handler.py): the
 * custom-git payload `{commit, ref, default_branch, commit_info}`, and the GitHub, GitLab and Bitbucket push
 * payloads, each turned into the same `trigger_metadata` shape. Then the webhook filters (branch/tag regex,
 * `[skip build]`) and the tag names a build gets (templates, default_tag_from_ref, latest_for_default_branch).
 *
 * Pure functions: no database, no network. Where Quay asks the SCM's API (GitHub user lookups, GitLab's
 * default branch and commit authors), the caller may pass what it knows; without it the field is left out,
 * exactly as Quay leaves it out when its lookup finds nothing.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { lazyModule } from '../lazy.js';
import { sanitizeTag } from './builds.js';
import { Invalid } from './errors.js';

const jsonPath = lazyModule<typeof import('jsonpath-plus')>('jsonpath-plus');

/** The request must be answered 200 without a build (a ping, a deleted branch, `[skip build]`, a filtered ref). */
export class SkipRequest extends Error {
  constructor(reason: string) {
    super(reason);
  }
}

/** The payload does not have the shape of any accepted format: 400 with this message. */
export class InvalidPayload extends Invalid {
  constructor(message: string) {
    super('request', message);
  }
}

export interface CommitPerson {
  username?: string;
  url?: string;
  avatar_url?: string;
}

export interface TriggerMetadata {
  commit: string;
  git_url: string;
  ref?: string;
  default_branch?: string;
  commit_info?: {
    url?: string;
    message?: string;
    date?: string;
    author?: CommitPerson;
    committer?: CommitPerson;
  };
}

/** Trigger config keys that shape builds (the user's part of a trigger's config). */
export interface TriggerBuildConfig {
  build_source?: string;
  dockerfile_path?: string;
  context?: string;
  branchtag_regex?: string;
  default_tag_from_ref?: boolean;
  latest_for_default_branch?: boolean;
  tag_templates?: string[];
}

const Str = Type.String();
const Person = Type.Object({ username: Str, url: Str, avatar_url: Str });

/** Quay's CustomBuildTrigger.payload_schema. */
export const CUSTOM_GIT_PAYLOAD = Type.Object({
  commit: Type.String({ pattern: '^([A-Fa-f0-9]{7,})$' }),
  ref: Type.String({ pattern: '^refs/(heads|tags|remotes)/(.+)$' }),
  default_branch: Str,
  commit_info: Type.Optional(Type.Object({ url: Str, message: Str, date: Str, author: Type.Optional(Person), committer: Type.Optional(Person) })),
});

const GithubUser = Type.Object({ username: Type.Optional(Str), html_url: Type.Optional(Str), avatar_url: Type.Optional(Str) });
const GITHUB_PAYLOAD = Type.Object({
  ref: Str,
  head_commit: Type.Union([Type.Null(), Type.Object({ id: Str, url: Str, message: Str, timestamp: Str, author: Type.Optional(GithubUser), committer: Type.Optional(GithubUser) })]),
  repository: Type.Object({ ssh_url: Str, default_branch: Type.Optional(Type.Union([Str, Type.Null()])) }),
});

const GITLAB_PAYLOAD = Type.Object({
  ref: Str,
  checkout_sha: Type.Union([Str, Type.Null()]),
  repository: Type.Object({ git_ssh_url: Str }),
  commits: Type.Optional(
    Type.Array(
      Type.Object({
        id: Str,
        url: Type.Optional(Type.Union([Str, Type.Null()])),
        message: Str,
        timestamp: Str,
        author: Type.Optional(Type.Object({ email: Str })),
      }),
    ),
  ),
});

const Avatar = Type.Object({ avatar: Type.Object({ href: Str }) });
const BITBUCKET_PAYLOAD = Type.Object({
  repository: Type.Object({ full_name: Str }),
  push: Type.Object({
    changes: Type.Array(
      Type.Object({
        // A deleted branch or tag has no `new` (Quay skips it).
        new: Type.Optional(
          Type.Union([
            Type.Null(),
            Type.Object({
              name: Str,
              target: Type.Object({
                hash: Str,
                message: Str,
                date: Str,
                author: Type.Optional(
                  Type.Object({ user: Type.Optional(Type.Object({ display_name: Type.Optional(Str), account_id: Type.Optional(Str), links: Type.Optional(Avatar) })) }),
                ),
              }),
            }),
          ]),
        ),
      }),
    ),
  }),
  actor: Type.Optional(Type.Object({ account_id: Type.Optional(Str), display_name: Type.Optional(Str), links: Type.Optional(Avatar) })),
});

/** The first schema violation as a readable sentence (the 400 message). */
function firstError(schema: TSchema, value: unknown): string | null {
  const e = Value.Errors(schema, value).First();
  if (!e) return null;
  return `${e.path || '/'}: ${e.message}`;
}

type Json = Record<string, unknown>;

/** Reads a dotted path (`a.b.c`) of a JSON value; undefined when any step is missing. */
function at(value: unknown, path: string): unknown {
  let cur: unknown = value;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Json)[k];
  }
  return cur;
}

/** Quay's SafeDictSetter: dotted keys become nested objects; null/undefined values are left out. */
class MetadataBuilder {
  private readonly root: Json = {};
  set(path: string, value: unknown): void {
    if (value === null || value === undefined) return;
    const keys = path.split('.');
    let cur = this.root;
    for (const k of keys.slice(0, -1)) {
      if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
      cur = cur[k] as Json;
    }
    cur[keys[keys.length - 1]] = value;
  }
  value(): Json {
    return this.root;
  }
}

export interface GithubLookups {
  /** The repository's default branch (Quay asks GitHub's API; a trigger knows it from config.master_branch). */
  defaultBranch?: string | null;
  lookupUser?: (username: string) => { html_url: string; avatar_url: string } | null;
}

/** GitHub push payload → metadata (githubhandler.get_transformed_webhook_payload). */
export function githubMetadata(payload: unknown, lookups: GithubLookups = {}): Json {
  const err = firstError(GITHUB_PAYLOAD, payload);
  if (err) throw new InvalidPayload(err);
  if (at(payload, 'head_commit') === null) throw new SkipRequest('the push has no head commit');
  const m = new MetadataBuilder();
  m.set('commit', at(payload, 'head_commit.id'));
  m.set('ref', at(payload, 'ref'));
  m.set('default_branch', at(payload, 'repository.default_branch') || lookups.defaultBranch);
  m.set('git_url', at(payload, 'repository.ssh_url'));
  m.set('commit_info.url', at(payload, 'head_commit.url'));
  m.set('commit_info.message', at(payload, 'head_commit.message'));
  m.set('commit_info.date', at(payload, 'head_commit.timestamp'));
  for (const who of ['author', 'committer'] as const) {
    const username = at(payload, `head_commit.${who}.username`);
    m.set(`commit_info.${who}.username`, username);
    m.set(`commit_info.${who}.url`, at(payload, `head_commit.${who}.html_url`));
    m.set(`commit_info.${who}.avatar_url`, at(payload, `head_commit.${who}.avatar_url`));
    if (lookups.lookupUser && typeof username === 'string' && username && !at(payload, `head_commit.${who}.html_url`)) {
      const info = lookups.lookupUser(username);
      if (info) {
        m.set(`commit_info.${who}.url`, info.html_url);
        m.set(`commit_info.${who}.avatar_url`, info.avatar_url);
      }
    }
  }
  return m.value();
}

const NULL_SHA = '0'.repeat(40);

export interface GitlabLookups {
  /** Quay asks GitLab's API; a GitLab push payload carries it as project.default_branch. */
  defaultBranch?: string | null;
  lookupUser?: (email: string) => { username: string; html_url: string; avatar_url: string } | null;
  lookupCommit?: (projectId: unknown, sha: string) => Json | null;
}

/** GitLab push / tag push payload → metadata (gitlabhandler.get_transformed_webhook_payload). */
export function gitlabMetadata(payload: unknown, lookups: GitlabLookups = {}): Json {
  const err = firstError(GITLAB_PAYLOAD, payload);
  if (err) throw new InvalidPayload(err);
  const kind = at(payload, 'object_kind');
  if (kind !== 'push' && kind !== 'tag_push') throw new SkipRequest(`GitLab event ${String(kind)} does not build`);
  const commits = (at(payload, 'commits') as Json[] | undefined) ?? [];
  // A deleted branch is a push without commits.
  if (kind === 'push' && commits.length === 0) throw new SkipRequest('the push has no commits');
  const sha = (at(payload, 'checkout_sha') as string | null) || (at(payload, 'after') as string | undefined);
  if (!sha || sha === NULL_SHA) throw new SkipRequest('the push names no commit');
  const m = new MetadataBuilder();
  m.set('commit', sha);
  m.set('ref', at(payload, 'ref'));
  m.set('default_branch', lookups.defaultBranch);
  m.set('git_url', at(payload, 'repository.git_ssh_url'));
  let found: Json | null = commits.find((c) => c.id === at(payload, 'checkout_sha')) ?? null;
  if (!found && lookups.lookupCommit) found = lookups.lookupCommit(at(payload, 'project_id'), sha) ?? {};
  if (!found) throw new SkipRequest('the commit is not in the payload');
  m.set('commit_info.url', found.url);
  m.set('commit_info.message', found.message);
  m.set('commit_info.date', found.timestamp);
  const email = (at(found, 'author.email') || found.author_email) as string | undefined;
  if (lookups.lookupUser && email) {
    const info = lookups.lookupUser(email);
    if (info) {
      m.set('commit_info.author.username', info.username);
      m.set('commit_info.author.url', info.html_url);
      m.set('commit_info.author.avatar_url', info.avatar_url);
    }
  }
  return m.value();
}

/** Bitbucket `repo:push` payload → metadata (bitbuckethandler.get_transformed_webhook_payload). */
export function bitbucketMetadata(payload: unknown, defaultBranch?: string | null, gitUrl?: string): Json {
  const err = firstError(BITBUCKET_PAYLOAD, payload);
  if (err) throw new InvalidPayload(err);
  const changes = at(payload, 'push.changes') as Json[];
  const change = changes.length > 0 ? (changes[changes.length - 1].new as Json | null | undefined) : null;
  if (!change) throw new SkipRequest('the push deletes a branch or tag');
  const ref = change.type === 'branch' ? `refs/heads/${String(change.name)}` : `refs/tags/${String(change.name)}`;
  const repositoryName = at(payload, 'repository.full_name') as string;
  const target = change.target as Json;
  const m = new MetadataBuilder();
  m.set('commit', target.hash);
  m.set('ref', ref);
  m.set('default_branch', defaultBranch);
  m.set('git_url', gitUrl ?? `git@bitbucket.org:${repositoryName}.git`);
  m.set('commit_info.url', at(target, 'links.html.href') || '');
  m.set('commit_info.message', target.message);
  m.set('commit_info.date', target.date);
  m.set('commit_info.author.username', at(target, 'author.user.display_name'));
  m.set('commit_info.author.avatar_url', at(target, 'author.user.links.avatar.href'));
  m.set('commit_info.committer.username', at(payload, 'actor.display_name'));
  m.set('commit_info.committer.avatar_url', at(payload, 'actor.links.avatar.href'));
  return m.value();
}

/**
 * A custom-git webhook body → metadata (customhandler.custom_trigger_payload): the custom schema first; a
 * GitHub-, Bitbucket- or GitLab-shaped body (tried in that order) is converted. `git_url` is always the
 * trigger's build source. Unknown keys of a custom body are dropped (Quay keeps them; they would only
 * bloat the stored metadata).
 */
export function customGitMetadata(payload: unknown, gitUrl: string): Json {
  const customError = firstError(CUSTOM_GIT_PAYLOAD, payload);
  if (customError === null) {
    const p = payload as Json;
    const out: Json = { commit: p.commit, ref: p.ref, default_branch: p.default_branch };
    if (p.commit_info) {
      const ci = p.commit_info as Json;
      const info: Json = { url: ci.url, message: ci.message, date: ci.date };
      for (const who of ['author', 'committer'] as const) {
        const person = ci[who] as Json | undefined;
        if (person) info[who] = { username: person.username, url: person.url, avatar_url: person.avatar_url };
      }
      out.commit_info = info;
    }
    out.git_url = gitUrl;
    return out;
  }
  const converters: Array<[TSchema, (p: unknown) => Json]> = [
    [GITHUB_PAYLOAD, (p) => githubMetadata(p)],
    [BITBUCKET_PAYLOAD, (p) => bitbucketMetadata(p)],
    [GITLAB_PAYLOAD, (p) => gitlabMetadata(p)],
  ];
  for (const [schema, convert] of converters) {
    if (!Value.Check(schema, payload)) continue;
    return { ...convert(payload), git_url: gitUrl };
  }
  throw new InvalidPayload(customError);
}

/** The metadata a build may carry: `commit` and `git_url` are required (Quay's METADATA_SCHEMA). */
const METADATA = Type.Object({
  commit: Type.String({ minLength: 1 }),
  git_url: Type.String({ minLength: 1 }),
  ref: Type.Optional(Str),
  default_branch: Type.Optional(Str),
  commit_info: Type.Optional(
    Type.Object({
      url: Type.Optional(Str),
      message: Type.Optional(Str),
      date: Type.Optional(Type.Union([Str, Type.Number()])),
      author: Type.Optional(Type.Object({ username: Type.Optional(Str), url: Type.Optional(Str), avatar_url: Type.Optional(Str) })),
      committer: Type.Optional(Type.Object({ username: Type.Optional(Str), url: Type.Optional(Str), avatar_url: Type.Optional(Str) })),
    }),
  ),
});

export function checkedMetadata(m: Json): TriggerMetadata {
  const err = firstError(METADATA, m);
  if (err) throw new InvalidPayload(err);
  return m as unknown as TriggerMetadata;
}

/**
 * Does `ref` pass the trigger's branch/tag regex? The regex must match the whole ref without its first
 * segment (`heads/main`, `tags/v1.2`); a regex that does not compile matches everything (Quay's rule).
 */
export function refMatches(ref: string | undefined, regex: string): boolean {
  if (!ref) return false;
  const slash = ref.indexOf('/');
  const subject = slash >= 0 ? ref.slice(slash + 1) : ref;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${regex})$`);
  } catch {
    return true;
  }
  return re.test(subject);
}

/** Quay's raise_if_skipped_build: the webhook filters (manual runs are never filtered). */
export function checkNotSkipped(metadata: TriggerMetadata, config: TriggerBuildConfig): void {
  if (typeof config.branchtag_regex === 'string' && !refMatches(metadata.ref, config.branchtag_regex)) {
    throw new SkipRequest(`ref ${metadata.ref ?? '(none)'} does not match the trigger's branch/tag regex`);
  }
  const message = metadata.commit_info?.message;
  if (typeof message === 'string' && (message.includes('[skip build]') || message.includes('[build skip]'))) {
    throw new SkipRequest('the commit message asks to skip the build');
  }
}

/** `refs/heads/x` → {branch: 'x'}, `refs/tags/v1` → {tag: 'v1'}, `refs/remotes/r` → {remote: 'r'}. */
export function parseRef(ref: string | undefined): { branch?: string; tag?: string; remote?: string } | null {
  const m = /^refs\/(heads|tags|remotes)\/(.+)$/.exec(ref ?? '');
  if (!m) return null;
  return { heads: { branch: m[2] }, tags: { tag: m[2] }, remotes: { remote: m[2] } }[m[1] as 'heads' | 'tags' | 'remotes'];
}

const PLACEHOLDER = /\$\{([^}]+)\}/g;

/** One `${jsonpath}` template expanded; null when any expression resolves to nothing or does not parse. */
function expandTemplate(template: string, data: Json): string | null {
  let dropped = false;
  const out = template.replace(PLACEHOLDER, (_m, expr: string) => {
    if (dropped) return '';
    const path = expr.trim().startsWith('$') ? expr.trim() : `$.${expr.trim()}`;
    let values: unknown[];
    try {
      values = jsonPath().JSONPath({ path, json: data, wrap: true, eval: false }) as unknown[];
    } catch {
      dropped = true;
      return '';
    }
    const present = values.filter((v) => v !== null && v !== undefined);
    if (present.length === 0) {
      dropped = true;
      return '';
    }
    return present.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',');
  });
  return dropped ? null : out;
}

/**
 * The tags a trigger build pushes (Quay's _determine_tags, a set): the expanded templates; the branch or tag
 * name with default_tag_from_ref (default true); `latest` when that name is the default branch with
 * latest_for_default_branch (default true); else the short sha. Every tag is sanitized.
 */
export function determineTags(metadata: TriggerMetadata, config: TriggerBuildConfig): string[] {
  const tags = new Set<string>();
  const data: Json = {
    ...(metadata as unknown as Json),
    commit_info: { ...(metadata.commit_info ?? {}), short_sha: metadata.commit.slice(0, 7) },
    parsed_ref: parseRef(metadata.ref) ?? {},
  };
  for (const template of config.tag_templates ?? []) {
    if (typeof template !== 'string') continue;
    const tag = expandTemplate(template, data);
    if (tag !== null) tags.add(tag);
  }
  if (metadata.ref) {
    const name = metadata.ref.split('/').slice(2).join('/');
    if (config.default_tag_from_ref ?? true) {
      if (name) tags.add(name);
    }
    if ((config.latest_for_default_branch ?? true) && name && name === metadata.default_branch) tags.add('latest');
  }
  if (tags.size === 0) tags.add(metadata.commit.slice(0, 7));
  return [...new Set([...tags].map(sanitizeTag))].sort();
}
