/** Server state shared by many pages: the signed-in user and the registry's public configuration. */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, request } from './client';

export interface Avatar {
  name: string;
  color: string;
  kind: string;
}

export interface QuotaReport {
  quota_bytes: number;
  configured_quota: number | null;
  percent_consumed?: number | null;
}

export interface User {
  anonymous: boolean;
  username: string;
  email: string | null;
  avatar: Avatar;
  super_user?: boolean;
  global_readonly_super_user?: boolean;
  tag_expiration_s?: number;
  organizations: { name: string; is_org_admin: boolean; can_create_repo: boolean; avatar: Avatar }[];
  quota_report?: QuotaReport;
}

export interface RegistryConfig {
  features: Record<string, boolean>;
  config: Record<string, unknown>;
  registry_state: string;
  /** Public halves of the OAuth apps (the build trigger services: `GITHUB_TRIGGER_CONFIG`, `GITLAB_TRIGGER_CONFIG`). */
  oauth?: Record<string, Record<string, string>>;
}

const ANONYMOUS: User = { anonymous: true, username: '', email: null, avatar: { name: '', color: '#888', kind: 'user' }, organizations: [] };

export function useUser() {
  return useQuery({
    queryKey: ['user'],
    queryFn: async () => {
      try {
        return await api.get<User>('/user/');
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return ANONYMOUS;
        throw e;
      }
    },
    staleTime: 60_000,
  });
}

/** The signed-in user; only for components rendered inside the signed-in shell. */
export function useMe(): User {
  return useUser().data ?? ANONYMOUS;
}

export function useConfig() {
  return useQuery({
    queryKey: ['config'],
    queryFn: () => request<RegistryConfig>('GET', '/config'),
    staleTime: Infinity,
  });
}

/** What the UI needs from GET /config, with the page's own host when the server names none. */
export function useRegistryInfo() {
  const { data } = useConfig();
  const cfg = data?.config ?? {};
  return {
    host: (cfg.SERVER_HOSTNAME as string | undefined) || window.location.host,
    title: (cfg.REGISTRY_TITLE as string | undefined) || 'Quay',
    features: data?.features ?? {},
    readonly: data?.registry_state === 'readonly',
    config: cfg,
  };
}

export function useInvalidate() {
  const qc = useQueryClient();
  return (...keys: unknown[][]) => Promise.all(keys.map((k) => qc.invalidateQueries({ queryKey: k })));
}
