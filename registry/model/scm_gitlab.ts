/**
 * The GitLab side of a build trigger (Quay's GitLabBuildTrigger), over GitLab's REST API v4 at
 * GITLAB_ENDPOINT/api/v4 with the connected account's OAuth token.
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
} from './scm.js';

interface GlProject {
  id: number;
  default_branch: string | null;
  ssh_url_to_repo: string;
}

/** GitLab access levels that may administer a project (Maintainer, Owner). */
const ADMIN_ACCESS = 40;

export class GitlabClient implements ScmClient {
  private readonly http: ScmApi;

  constructor(api: string, token: string) {
    this.http = new ScmApi(api, `Bearer ${token}`);
  }

  private async project(source: string): Promise<GlProject> {
    try {
      return await this.http.call<GlProject>(`/projects/${encodeURIComponent(source)}`);
    } catch (err) {
      if (err instanceof ScmApiError && err.status === 404) throw new ScmError(`Unable to find GitLab repository for source: ${source}`);
      throw err;
    }
  }

  async namespaces(): Promise<ScmNamespace[]> {
    await this.http.call('/user', {}, 'Unable to get current user');
    const out = new Map<string, ScmNamespace>();
    for (const ns of await this.http.list<{ id: number; name: string; kind: string; avatar_url?: string | null; web_url?: string | null }>('/namespaces')) {
      const id = String(ns.id);
      const seen = out.get(id);
      if (seen) seen.score++;
      else out.set(id, { personal: ns.kind === 'user', id, title: ns.name, avatar_url: ns.avatar_url ?? null, score: 1, url: ns.web_url ?? '' });
    }
    return [...out.values()];
  }

  async sources(namespaceId: string): Promise<ScmSource[]> {
    if (!namespaceId) return [];
    let ns: { id: number; kind: string };
    try {
      ns = await this.http.call(`/namespaces/${encodeURIComponent(namespaceId)}`);
    } catch (err) {
      if (err instanceof ScmApiError) return [];
      throw err;
    }
    const me = await this.http.call<{ id: number }>('/user');
    const path = ns.kind === 'group' ? `/groups/${ns.id}/projects` : `/users/${me.id}/projects`;
    const projects = await this.http.list<{
      path: string;
      path_with_namespace: string;
      description: string | null;
      web_url: string;
      visibility: string;
      last_activity_at?: string | null;
      permissions?: { group_access?: { access_level?: number } | null; project_access?: { access_level?: number } | null } | null;
    }>(path);
    return projects.map((p) => {
      const perms = p.permissions ?? {};
      const level = Math.max(perms.group_access?.access_level ?? 0, perms.project_access?.access_level ?? 0);
      // Unknown permissions count as admin (GitLab itself refuses the hook later), as in Quay.
      const unknown = perms.group_access == null || perms.project_access == null;
      const updated = p.last_activity_at ? Date.parse(p.last_activity_at) : NaN;
      return {
        name: p.path,
        full_name: p.path_with_namespace,
        description: p.description ?? '',
        url: p.web_url,
        has_admin_permissions: unknown || level >= ADMIN_ACCESS,
        private: p.visibility === 'private',
        last_updated: Number.isNaN(updated) ? 0 : Math.floor(updated / 1000),
      };
    });
  }

  async dockerfiles(config: TriggerScmConfig): Promise<string[]> {
    const project = await this.project(config.build_source);
    const names = (await this.http.list<{ name: string }>(`/projects/${project.id}/repository/branches`)).map((b) => b.name);
    if (names.length === 0) throw new EmptyRepository();
    const branch = matchingBranches(config, names)[0] ?? project.default_branch ?? 'master';
    const tree = await this.http.list<{ name: string; type: string }>(`/projects/${project.id}/repository/tree?ref=${encodeURIComponent(branch)}`);
    // The top level of the tree, as Quay lists it.
    return tree.filter((n) => n.type === 'blob' && isDockerfileName(n.name)).map((n) => n.name);
  }

  async dockerfile(config: TriggerScmConfig): Promise<string | null> {
    const project = await this.project(config.build_source);
    const branches = matchingBranches(config, await this.branches(config));
    if (branches.length === 0) return null;
    const branch = project.default_branch && branches.includes(project.default_branch) ? project.default_branch : branches[0];
    try {
      const file = await this.http.call<{ content: string; encoding: string }>(
        `/projects/${project.id}/repository/files/${encodeURIComponent(dockerfilePathOf(config))}?ref=${encodeURIComponent(branch)}`,
      );
      return file.encoding === 'base64' ? Buffer.from(file.content, 'base64').toString('utf8') : file.content;
    } catch (err) {
      if (err instanceof ScmApiError) return null;
      throw err;
    }
  }

  async branches(config: TriggerScmConfig, limit?: number): Promise<string[]> {
    const project = await this.project(config.build_source);
    return (await this.http.list<{ name: string }>(`/projects/${project.id}/repository/branches`)).map((b) => b.name).slice(0, limit);
  }

  async tags(config: TriggerScmConfig, limit?: number): Promise<string[]> {
    const project = await this.project(config.build_source);
    return (await this.http.list<{ name: string }>(`/projects/${project.id}/repository/tags`)).map((t) => t.name).slice(0, limit);
  }

  async install(config: TriggerScmConfig, publicKey: string, webhookUrl: string, title: string): Promise<Record<string, unknown>> {
    const source = config.build_source;
    const project = await this.project(source);
    const key = await this.http
      .call<{ id: number }>(`/projects/${project.id}/deploy_keys`, { method: 'POST', body: { title, key: publicKey } }, `Unable to add deploy key to repository: ${source}`)
      .catch((err) => {
        throw new ScmError((err as Error).message);
      });
    try {
      const hook = await this.http.call<{ id: number }>(
        `/projects/${project.id}/hooks`,
        { method: 'POST', body: { url: webhookUrl, push_events: true, tag_push_events: true } },
        `Unable to create webhook on repository: ${source}`,
      );
      return { key_id: key.id, hook_id: hook.id, master_branch: project.default_branch };
    } catch (err) {
      await this.http.call(`/projects/${project.id}/deploy_keys/${key.id}`, { method: 'DELETE' }).catch(() => undefined);
      throw new ScmError((err as Error).message);
    }
  }

  async uninstall(config: Record<string, unknown>): Promise<void> {
    const project = await this.project(String(config.build_source ?? ''));
    const gone = (err: unknown) => {
      if (!(err instanceof ScmApiError && err.status === 404)) throw err;
    };
    if (config.hook_id !== undefined) await this.http.call(`/projects/${project.id}/hooks/${Number(config.hook_id)}`, { method: 'DELETE' }).catch(gone);
    if (config.key_id !== undefined) await this.http.call(`/projects/${project.id}/deploy_keys/${Number(config.key_id)}`, { method: 'DELETE' }).catch(gone);
  }

  async commitFor(config: TriggerScmConfig, ref: ScmRef | null): Promise<CommitMetadata> {
    const project = await this.project(config.build_source);
    const want = ref ?? { kind: 'branch', name: project.default_branch ?? 'master' };
    const list = want.kind === 'tag' ? 'tags' : 'branches';
    const head = await this.http.call<{ commit: { id: string } }>(`/projects/${project.id}/repository/${list}/${encodeURIComponent(want.name)}`).catch(() => {
      throw new ScmError(`Could not find ${want.kind} in repository`);
    });
    const c = await this.http.call<{ id: string; message: string; web_url: string; committed_date: string; author_email?: string }>(
      `/projects/${project.id}/repository/commits/${encodeURIComponent(head.commit.id)}`,
      {},
      'Could not load commit information from GitLab',
    );
    const commitInfo: Record<string, unknown> = { url: c.web_url, message: c.message, date: c.committed_date };
    if (c.author_email) {
      const users = await this.http.list<{ username: string; web_url: string; avatar_url: string }>(`/users?search=${encodeURIComponent(c.author_email)}`).catch(() => []);
      if (users.length === 1) commitInfo.author = { username: users[0].username, url: users[0].web_url, avatar_url: users[0].avatar_url };
    }
    return {
      commit: c.id,
      ref: `refs/${want.kind === 'tag' ? 'tags' : 'heads'}/${want.name}`,
      default_branch: project.default_branch,
      git_url: project.ssh_url_to_repo,
      commit_info: commitInfo,
    };
  }
}
