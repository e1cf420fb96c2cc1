import type { Avatar, QuotaReport } from '../../api/hooks';

export interface TeamSummary {
  name: string;
  description: string;
  role: string;
  avatar: Avatar;
  repo_count: number;
  member_count: number;
  can_view: boolean;
}

export interface Org {
  name: string;
  email: string | null;
  avatar: Avatar;
  is_admin: boolean;
  is_member: boolean;
  teams?: Record<string, TeamSummary>;
  ordered_teams?: string[];
  tag_expiration_s: number;
  quota_report?: QuotaReport;
  quotas?: { id: string; limit_bytes: number; limits: { id: string; type: string; limit_percent: number }[] }[];
}

/** Where a namespace's robots live in the API. */
export const robotBase = (ns: string, isUser: boolean) => (isUser ? '/user/robots' : `/organization/${encodeURIComponent(ns)}/robots`);
