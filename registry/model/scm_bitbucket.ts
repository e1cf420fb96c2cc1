/**
 * The Bitbucket side of a build trigger (Quay's BitbucketBuildTrigger), over Bitbucket Cloud's REST API 2.0
 * with the connected account's OAuth 2 token (Quay 3.8 used OAuth 1.0a and API 1.0, which Bitbucket has
 * retired; the consumer's key and secret are the same). As in Quay, the Dockerfile listing covers the top
 * level of the repository, the deploy key is titled `<REGISTRY_TITLE> webhook key`, the hook listens to
 * `repo:push`, and the config records `deploy_key_id`, `webhook_id` and `webhook_url`.
 */
import {
  EmptyRepository,
  isDockerfileName,
  matchingBranches,
  ScmApi,
  ScmApiError,
  ScmError,
  dockerfilePathOf,
  slashJoin,
  type CommitMetadata,
  type ScmClient,
  type ScmNamespace,
  type ScmRef,
  type ScmSource,
  type TriggerScmConfig,
  encodePath,
  sourcePath,
} from './scm.js';

/** `workspace/name` as a URL path. */
const repoPath = (source: string) => sourcePath(source, 'Bitbucket');

interface BbLinks {
  html?: { href?: string };
  avatar?: { href?: string };
  clone?: Array<{ name?: string; href?: string }>;
}
interface BbRepo {
  slug: string;
  name: string;
  full_name: string;
  description?: string | null;
  updated_on?: string | null;
  is_private: boolean;
  mainbranch?: { name?: string } | null;
  links?: BbLinks;
  workspace?: { slug?: string };
}
interface BbCommit {
  hash: string;
  message?: string;
  date?: string;
  author?: { raw?: string; user?: { display_name?: string; links?: BbLinks } };
  links?: BbLinks;
}
interface BbRef {
  name: string;
  target: BbCommit;
}

export class BitbucketClient implements ScmClient {
  private readonly http: ScmApi;

  /** `web` is Bitbucket's site (commit pages when the API gives none). */
  constructor(
    api: string,
    token: string,
    private readonly web: string,
    private readonly titles: { key: string; hook: string },
  ) {
    this.http = new ScmApi(api, `Bearer ${token}`);
  }

  private async repo(source: string): Promise<BbRepo> {
    try {
      return await this.http.call<BbRepo>(`/repositories/${repoPath(source)}`);
    } catch (err) {
      if (err instanceof ScmApiError && (err.status === 404 || err.status === 403)) throw new ScmError(`Unable to find Bitbucket repository for source: ${source}`);
      throw err;
    }
  }

  /** The repositories the account is a member of. */
  private visible(): Promise<BbRepo[]> {
    return this.http.values<BbRepo>('/repositories?role=member');
  }

  async namespaces(): Promise<ScmNamespace[]> {
    const me = await this.http.call<{ username?: string; nickname?: string }>('/user', {}, 'Unable to get current user');
    const out = new Map<string, ScmNamespace>();
    for (const r of await this.visible()) {
      const owner = ownerOf(r);
      const seen = out.get(owner);
      if (seen) seen.score++;
      else {
        out.set(owner, {
          personal: owner === (me.username ?? me.nickname),
          id: owner,
          title: owner,
          avatar_url: r.links?.avatar?.href ?? null,
          url: slashJoin(this.web, owner),
          score: 1,
        });
      }
    }
    return [...out.values()];
  }

  async sources(namespace: string): Promise<ScmSource[]> {
    const repos = (await this.visible()).filter((r) => ownerOf(r) === namespace);
    if (repos.length === 0) return [];
    const admin = new Set(
      (await this.http.values<{ permission: string; repository: { full_name: string } }>('/user/permissions/repositories?q=permission%3D%22admin%22')).map(
        (p) => p.repository.full_name,
      ),
    );
    return repos.map((r) => {
      const updated = r.updated_on ? Date.parse(r.updated_on) : NaN;
      return {
        name: r.slug,
        full_name: r.full_name,
        description: r.description ?? '',
        last_updated: Number.isNaN(updated) ? 0 : Math.floor(updated / 1000),
        url: r.links?.html?.href ?? slashJoin(this.web, r.full_name),
        has_admin_permissions: admin.has(r.full_name),
        private: r.is_private,
      };
    });
  }

  async dockerfiles(config: TriggerScmConfig): Promise<string[]> {
    const repo = await this.repo(config.build_source);
    const names = (await this.http.values<BbRef>(`/repositories/${repoPath(config.build_source)}/refs/branches`)).map((b) => b.name);
    if (names.length === 0) throw new EmptyRepository();
    const branch = matchingBranches(config, names)[0] ?? repo.mainbranch?.name ?? 'master';
    const entries = await this.http.values<{ path: string; type: string }>(`/repositories/${repoPath(config.build_source)}/src/${encodeURIComponent(branch)}/`);
    // The top level of the tree, as Quay lists it.
    return entries.filter((e) => e.type === 'commit_file' && isDockerfileName(e.path)).map((e) => e.path);
  }

  async dockerfile(config: TriggerScmConfig): Promise<string | null> {
    const repo = await this.repo(config.build_source);
    const branches = matchingBranches(config, await this.branches(config));
    if (branches.length === 0) return null;
    const main = repo.mainbranch?.name;
    const branch = main && branches.includes(main) ? main : branches[0];
    return this.http.text(`/repositories/${repoPath(config.build_source)}/src/${encodeURIComponent(branch)}/${encodePath(dockerfilePathOf(config))}`);
  }

  async branches(config: TriggerScmConfig, limit?: number): Promise<string[]> {
    await this.repo(config.build_source);
    return (await this.http.values<BbRef>(`/repositories/${repoPath(config.build_source)}/refs/branches`)).map((b) => b.name).slice(0, limit);
  }

  async tags(config: TriggerScmConfig, limit?: number): Promise<string[]> {
    await this.repo(config.build_source);
    return (await this.http.values<BbRef>(`/repositories/${repoPath(config.build_source)}/refs/tags`)).map((t) => t.name).slice(0, limit);
  }

  async install(config: TriggerScmConfig, publicKey: string, webhookUrl: string): Promise<Record<string, unknown>> {
    const source = config.build_source;
    const repo = await this.repo(source);
    const key = await this.http
      .call<{ id: number }>(
        `/repositories/${repoPath(source)}/deploy-keys`,
        { method: 'POST', body: { label: this.titles.key, key: publicKey } },
        `Unable to add deploy key to repository: ${source}`,
      )
      .catch((err) => {
        throw new ScmError((err as Error).message);
      });
    try {
      const hook = await this.http.call<{ uuid: string }>(
        `/repositories/${repoPath(source)}/hooks`,
        { method: 'POST', body: { description: this.titles.hook, url: webhookUrl, active: true, events: ['repo:push'] } },
        `Unable to create webhook on repository: ${source}`,
      );
      const out: Record<string, unknown> = { deploy_key_id: key.id, webhook_id: hook.uuid, webhook_url: webhookUrl, master_branch: repo.mainbranch?.name ?? null };
      // Bitbucket's push payload names no clone address; the one its API gives is kept for the builds.
      const ssh = sshCloneUrl(repo);
      if (ssh) out.git_url = ssh;
      return out;
    } catch (err) {
      await this.http.call(`/repositories/${repoPath(source)}/deploy-keys/${key.id}`, { method: 'DELETE' }).catch(() => undefined);
      throw new ScmError((err as Error).message);
    }
  }

  async uninstall(config: Record<string, unknown>): Promise<void> {
    const source = String(config.build_source ?? '');
    const gone = (err: unknown) => {
      if (!(err instanceof ScmApiError && err.status === 404)) throw err;
    };
    if (config.webhook_id !== undefined) {
      await this.http.call(`/repositories/${repoPath(source)}/hooks/${encodeURIComponent(String(config.webhook_id))}`, { method: 'DELETE' }).catch(gone);
    }
    if (config.deploy_key_id !== undefined) {
      await this.http.call(`/repositories/${repoPath(source)}/deploy-keys/${Number(config.deploy_key_id)}`, { method: 'DELETE' }).catch(gone);
    }
  }

  async commitFor(config: TriggerScmConfig, ref: ScmRef | null): Promise<CommitMetadata> {
    const source = config.build_source;
    const repo = await this.repo(source);
    const want = ref ?? { kind: 'branch', name: repo.mainbranch?.name ?? 'master' };
    const list = want.kind === 'tag' ? 'tags' : 'branches';
    const head = await this.http.call<BbRef>(`/repositories/${repoPath(source)}/refs/${list}/${encodeURIComponent(want.name)}`).catch(() => {
      throw new ScmError(`Could not find ${want.kind} in repository`);
    });
    const c = head.target;
    const commitInfo: Record<string, unknown> = {
      url: c.links?.html?.href ?? slashJoin(this.web, `${repo.full_name}/commits/${c.hash}`),
      message: c.message ?? '',
      date: c.date ?? '',
    };
    const user = c.author?.user;
    if (user?.display_name) commitInfo.author = { username: user.display_name, ...(user.links?.avatar?.href ? { avatar_url: user.links.avatar.href } : {}) };
    return {
      commit: c.hash,
      ref: `refs/${want.kind === 'tag' ? 'tags' : 'heads'}/${want.name}`,
      default_branch: repo.mainbranch?.name ?? null,
      git_url: sshCloneUrl(repo) ?? `git@${new URL(this.web).hostname}:${repo.full_name}.git`,
      commit_info: commitInfo,
    };
  }
}

/** The workspace a repository belongs to (its full name's first part when the API leaves it out). */
function ownerOf(r: BbRepo): string {
  return r.workspace?.slug ?? r.full_name.split('/')[0];
}

function sshCloneUrl(r: BbRepo): string | null {
  return r.links?.clone?.find((c) => c.name === 'ssh')?.href ?? null;
}
