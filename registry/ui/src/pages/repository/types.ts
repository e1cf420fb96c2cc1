import type { QuotaReport } from '../../api/hooks';

export interface Repository {
  namespace: string;
  name: string;
  description: string | null;
  is_public: boolean;
  is_organization: boolean;
  can_write: boolean;
  can_admin: boolean;
  state: string;
  tag_expiration_s: number;
  stats?: { date: string; count: number }[];
  quota_report?: QuotaReport;
}

export interface Tag {
  name: string;
  manifest_digest: string;
  is_manifest_list: boolean;
  size: number | null;
  last_modified: string;
  start_ts: number;
  end_ts?: number;
  expiration?: string;
  reversion?: boolean;
}

export interface TagPage {
  tags: Tag[];
  page: number;
  has_additional: boolean;
}
