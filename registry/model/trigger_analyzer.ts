/**
 * Quay's TriggerAnalyzer: reads a trigger config's Dockerfile from the source control service and says
 * whether its base image (the last FROM) needs a pull robot: `publicbase` (elsewhere, or a public repository
 * here), `requiresrobot` (a private repository here the caller may read), `warning` / `error` with a message.
 * Namespace admins get the namespace's robots, each with whether it can already read the base repository.
 */
import { posix } from 'node:path';

export type AnalysisStatus = 'warning' | 'error' | 'publicbase' | 'requiresrobot' | 'notimplemented';

export interface TriggerAnalysis {
  namespace: string | null;
  name: string | null;
  robots: Array<{ name: string; kind: 'user'; is_robot: true; can_read: boolean }>;
  status: AnalysisStatus;
  message: string | null;
  is_admin: boolean;
}

export interface AnalyzerContext {
  namespace: string;
  serverHostname: string;
  isNamespaceAdmin: boolean;
  /** The repository `ns/name` here: its visibility and whether the caller may read it; null when absent. */
  repository(namespace: string, name: string): Promise<{ public: boolean; callerCanRead: boolean } | null>;
  /** The namespace's robots and whether each may read `ns/name` (null: no repository). */
  robots(repository: { namespace: string; name: string } | null): Promise<Array<{ name: string; canRead: boolean }>>;
}

/** The image of the last FROM (without its tag), as Quay's dockerfileparse reads it; null without FROM. */
export function baseImage(dockerfile: string): string | null {
  const text = dockerfile
    .split('\n')
    .map((l) => (l.includes('#') ? l.slice(0, l.indexOf('#')) : l))
    .join('\n')
    .replace(/\s*\\\s*\n/g, '');
  let from: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s(.*)$/.exec(line);
    if (m && m[1].toUpperCase() === 'FROM') from = m[2].trim();
  }
  if (from === null) return null;
  const parts = from.split(':');
  if (parts.length === 1 || parts[parts.length - 1].includes('/')) return from;
  return parts.slice(0, -1).join(':');
}

/** Is `context` a parent directory of the Dockerfile at `dockerfilePath`? */
export function isParent(context: string, dockerfilePath: string): boolean {
  if (!context || !dockerfilePath) return false;
  const dir = (p: string) => {
    let n = posix.normalize(p.startsWith('/') ? p : `/${p}`);
    if (!n.endsWith('/')) n += '/';
    return n;
  };
  return dir(posix.dirname(dockerfilePath)).startsWith(dir(context));
}

export async function analyzeTrigger(dockerfile: string | null, config: Record<string, unknown>, ctx: AnalyzerContext): Promise<TriggerAnalysis> {
  const view = async (namespace: string | null, name: string | null, status: AnalysisStatus, message: string | null = null): Promise<TriggerAnalysis> => {
    const robots =
      ctx.isNamespaceAdmin && namespace === ctx.namespace
        ? (await ctx.robots(name !== null ? { namespace, name } : null)).map((r) => ({ name: r.name, kind: 'user' as const, is_robot: true as const, can_read: r.canRead }))
        : [];
    return { namespace, name, robots, status, message, is_admin: ctx.isNamespaceAdmin };
  };
  if (!dockerfile) return view(ctx.namespace, null, 'warning', 'Specified Dockerfile path for the trigger was not found on the main branch. This trigger may fail.');
  const context = typeof config.context === 'string' ? config.context : '';
  const dockerfilePath = typeof config.dockerfile_path === 'string' ? config.dockerfile_path : '';
  if (context && !isParent(context, dockerfilePath)) {
    return view(ctx.namespace, null, 'error', `Dockerfile, ${dockerfilePath}, is not a child of the context, ${context}.`);
  }
  const image = baseImage(dockerfile);
  if (!image) return view(ctx.namespace, null, 'warning', 'No FROM line found in the Dockerfile');
  const prefix = `${ctx.serverHostname}/`;
  if (!image.startsWith(prefix)) return view(ctx.namespace, null, 'publicbase');
  const path = image.slice(prefix.length).split('/');
  if (path.length !== 2) return view(ctx.namespace, null, 'warning', `"${image}" is not a valid Quay repository path`);
  const [ns, name] = path;
  const repo = await ctx.repository(ns, name);
  const notFound = `Repository "${image}" referenced by the Dockerfile was not found`;
  if (!repo) return view(ctx.namespace, null, 'error', notFound);
  // A private repository of another namespace is as good as absent (Quay checks read only in its own).
  if (!repo.public && !(ns === ctx.namespace && repo.callerCanRead)) return view(ctx.namespace, null, 'error', notFound);
  return view(ns, name, repo.public ? 'publicbase' : 'requiresrobot');
}
