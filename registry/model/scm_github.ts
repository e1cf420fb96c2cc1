/**
 * The GitHub side of a build trigger (Quay's GithubBuildTrigger), over GitHub's REST API v3 at the
 * configured API endpoint with the connected account's OAuth token.
 */
import {
  EmptyRepository,
  isDockerfileName,
  matchingBranches,
  ScmApi,
  ScmApiError,
  ScmError,
  dockerfilePathOf,
  type CommitMetadata,
  type ScmClient,
  type ScmNamespace,
  type ScmRef,
  type ScmSource,
  type TriggerScmConfig,
  encodePath,
  sourcePath,
} from './scm.js';

/** `owner/name` as a URL path. */
const repoPath = (source: string) => sourcePath(source, 'GitHub');

interface GhRepo {
  name: string;
  full_name: string;
  description: string | null;
  pushed_at: string | null;
  html_url: string;
  private: boolean;
  default_branch: string | null;
  ssh_url: string;
}
interface GhUserRef {
  login: string;
  avatar_url: string;
  html_url: string;
}

export class GithubClient implements ScmClient {
  private readonly http: ScmApi;

  constructor(api: string, token: string) {
    this.http = new ScmApi(api, `token ${token}`);
  }

  private call<T>(path: string, init: { method?: string; body?: unknown } = {}, fallback?: string): Promise<T> {
    return this.http.call<T>(path, init, fallback);
  }

  private list<T>(path: string): Promise<T[]> {
    return this.http.list<T>(path);
  }

  private repo(source: string): Promise<GhRepo> {
    return this.call<GhRepo>(`/repos/${repoPath(source)}`, {}, `Unable to find GitHub repository for source: ${source}`).catch((err) => {
      if (err instanceof ScmApiError && err.status === 404) throw new ScmError(`Unable to find GitHub repository for source: ${source}`);
      throw err;
    });
  }

  async namespaces(): Promise<ScmNamespace[]> {
    const user = await this.call<GhUserRef & { name: string | null; plan?: { private_repos?: number } }>('/user');
    const out = new Map<string, ScmNamespace>();
    out.set(user.login, {
      personal: true,
      id: user.login,
      title: user.name || user.login,
      avatar_url: user.avatar_url,
      url: user.html_url,
      score: user.plan?.private_repos ?? 0,
    });
    for (const org of await this.list<{ login: string; avatar_url: string }>('/user/orgs')) {
      out.set(org.login, { personal: false, id: org.login, title: org.login, avatar_url: org.avatar_url, url: '', score: 0 });
    }
    return [...out.values()];
  }

  async sources(namespace: string): Promise<ScmSource[]> {
    const user = await this.call<GhUserRef>('/user');
    let repos: GhRepo[];
    if (namespace === user.login) repos = await this.list<GhRepo>('/user/repos?type=owner&sort=updated');
    else {
      try {
        repos = await this.list<GhRepo>(`/orgs/${encodeURIComponent(namespace)}/repos?type=member`);
      } catch (err) {
        if (err instanceof ScmApiError) return [];
        throw err;
      }
    }
    return repos.map((r) => ({
      name: r.name,
      full_name: r.full_name,
      description: r.description ?? '',
      last_updated: r.pushed_at ? Math.floor(Date.parse(r.pushed_at) / 1000) : 0,
      url: r.html_url,
      has_admin_permissions: true,
      private: r.private,
    }));
  }

  async dockerfiles(config: TriggerScmConfig): Promise<string[]> {
    const repo = await this.repo(config.build_source);
    const branches = matchingBranches(config, await this.branches(config));
    const branch = branches[0] ?? repo.default_branch ?? 'master';
    try {
      const head = await this.call<{ commit: { sha: string } }>(`/repos/${repoPath(config.build_source)}/branches/${encodeURIComponent(branch)}`);
      const tree = await this.call<{ tree: Array<{ path: string; type: string }> }>(`/repos/${repoPath(config.build_source)}/git/trees/${head.commit.sha}?recursive=1`);
      return tree.tree.filter((e) => e.type === 'blob' && isDockerfileName(e.path.split('/').pop()!)).map((e) => e.path);
    } catch (err) {
      if (err instanceof ScmApiError && err.message === 'Branch not found') throw new EmptyRepository();
      if (err instanceof ScmApiError) throw new ScmError(err.message);
      throw err;
    }
  }

  async dockerfile(config: TriggerScmConfig): Promise<string | null> {
    await this.repo(config.build_source);
    try {
      const file = await this.call<{ content?: string; encoding?: string } | unknown[]>(`/repos/${repoPath(config.build_source)}/contents/${encodePath(dockerfilePathOf(config))}`);
      if (Array.isArray(file) || typeof file.content !== 'string') return null;
      return file.encoding === 'base64' ? Buffer.from(file.content, 'base64').toString('utf8') : file.content;
    } catch (err) {
      if (err instanceof ScmApiError) return null;
      throw err;
    }
  }

  async branches(config: TriggerScmConfig, limit?: number): Promise<string[]> {
    try {
      const repo = await this.repo(config.build_source);
      const names = (await this.list<{ name: string }>(`/repos/${repoPath(config.build_source)}/branches`)).map((b) => b.name).slice(0, limit);
      // The default branch first, as Quay lists it.
      const def = repo.default_branch;
      return def ? [def, ...names.filter((n) => n !== def)] : names;
    } catch (err) {
      if (err instanceof ScmApiError || err instanceof ScmError) return ['master'];
      throw err;
    }
  }

  async tags(config: TriggerScmConfig, limit?: number): Promise<string[]> {
    try {
      return (await this.list<{ name: string }>(`/repos/${repoPath(config.build_source)}/tags`)).map((t) => t.name).slice(0, limit);
    } catch (err) {
      if (err instanceof ScmApiError) return [];
      throw err;
    }
  }

  async install(config: TriggerScmConfig, publicKey: string, webhookUrl: string, title: string): Promise<Record<string, unknown>> {
    const source = config.build_source;
    const repo = await this.repo(source);
    const key = await this.call<{ id: number }>(
      `/repos/${repoPath(source)}/keys`,
      { method: 'POST', body: { title, key: publicKey } },
      `Unable to add deploy key to repository: ${source}`,
    ).catch((err) => {
      throw new ScmError(err.message);
    });
    try {
      const hook = await this.call<{ id: number }>(
        `/repos/${repoPath(source)}/hooks`,
        { method: 'POST', body: { name: 'web', active: true, events: ['push'], config: { url: webhookUrl, content_type: 'json' } } },
        `Unable to create webhook on repository: ${source}`,
      );
      return { deploy_key_id: key.id, hook_id: hook.id, master_branch: repo.default_branch };
    } catch (err) {
      // No half-installed trigger: the key goes again.
      await this.call(`/repos/${repoPath(source)}/keys/${key.id}`, { method: 'DELETE' }).catch(() => undefined);
      throw new ScmError((err as Error).message);
    }
  }

  async uninstall(config: Record<string, unknown>): Promise<void> {
    const source = String(config.build_source ?? '');
    const gone = (err: unknown) => {
      if (!(err instanceof ScmApiError && err.status === 404)) throw err;
    };
    if (config.deploy_key_id !== undefined) await this.call(`/repos/${repoPath(source)}/keys/${Number(config.deploy_key_id)}`, { method: 'DELETE' }).catch(gone);
    if (config.hook_id !== undefined) await this.call(`/repos/${repoPath(source)}/hooks/${Number(config.hook_id)}`, { method: 'DELETE' }).catch(gone);
  }

  async commitFor(config: TriggerScmConfig, ref: ScmRef | null): Promise<CommitMetadata> {
    const source = config.build_source;
    const repo = await this.repo(source);
    const want = ref ?? { kind: 'branch', name: repo.default_branch ?? 'master' };
    let sha: string;
    if (want.kind === 'branch') {
      const b = await this.call<{ commit: { sha: string } }>(`/repos/${repoPath(source)}/branches/${encodeURIComponent(want.name)}`).catch(() => {
        throw new ScmError('Could not find branch in repository');
      });
      sha = b.commit.sha;
    } else {
      const tag = (await this.list<{ name: string; commit: { sha: string } }>(`/repos/${repoPath(source)}/tags`)).find((t) => t.name === want.name);
      if (!tag) throw new ScmError('Could not find tag in repository');
      sha = tag.commit.sha;
    }
    const c = await this.call<{
      html_url: string;
      commit: { message: string; committer?: { date?: string } };
      author: GhUserRef | null;
      committer: GhUserRef | null;
    }>(`/repos/${repoPath(source)}/commits/${sha}`, {}, 'Could not load commit information from GitHub');
    const who = (u: GhUserRef | null) => (u ? { username: u.login, avatar_url: u.avatar_url, url: u.html_url } : undefined);
    const commitInfo: Record<string, unknown> = { url: c.html_url, message: c.commit.message, date: c.commit.committer?.date ?? '' };
    if (c.author) commitInfo.author = who(c.author);
    if (c.committer) commitInfo.committer = who(c.committer);
    return {
      commit: sha,
      ref: `refs/${want.kind === 'tag' ? 'tags' : 'heads'}/${want.name}`,
      default_branch: repo.default_branch,
      git_url: repo.ssh_url,
      commit_info: commitInfo,
    };
  }
}
