/**
 * What each notification event is (Quay's events): its scope, level, summary (e-mail subject, Slack text),
 * HTML body (e-mail, Slack, HipChat), delivery filter over its event config, event-config validation and the
 * sample payload `/test` sends. Producers build payloads with `Events.repositoryPayload` plus the event's keys.
 */
export type EventLevel = 'primary' | 'info' | 'success' | 'warning' | 'error';

export interface EventKind {
  name: string;
  scope: 'repository' | 'namespace';
  /** The level of one payload (vulnerability_found depends on the finding's priority). */
  level(data: Record<string, unknown>): EventLevel;
  summary(data: Record<string, unknown>): string;
  /** HTML body of e-mails; flattened for Slack. */
  html(data: Record<string, unknown>): string;
  /** Quay's should_perform: whether a notification with this event config fires for this payload. */
  shouldPerform(data: Record<string, unknown>, eventConfig: Record<string, unknown>): boolean;
  /** A 400 text for a bad event config, or null. */
  validateConfig(eventConfig: Record<string, unknown>): string | null;
  /** The event's own keys of the sample payload (merged after the common repository/namespace keys). */
  sample(ctx: { notificationUuid: string; namespace: string }): Record<string, unknown>;
}

export function escapeHtml(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : []);
const repoLink = (d: Record<string, unknown>) => `<a href="${escapeHtml(d.homepage)}">${escapeHtml(d.repository)}</a>`;
const tagLinks = (d: Record<string, unknown>, tags: string[]) =>
  tags.map((t) => `<a href="${escapeHtml(`${str(d.homepage).replace(/\/build\/.*$/, '')}?tag=${encodeURIComponent(t)}&tab=tags`)}">${escapeHtml(t)}</a>`).join(', ');

const noFilter = () => true;
const noConfig = () => null;

/** Priorities of vulnerability_found, most severe first (Quay's index). */
export const VULNERABILITY_PRIORITIES = ['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown'] as const;

function priorityIndex(p: unknown): number {
  return VULNERABILITY_PRIORITIES.findIndex((x) => x.toLowerCase() === str(p).toLowerCase());
}

/** Build events fire only for triggered builds whose ref matches `ref-regex` at its start. */
function refRegexMatches(data: Record<string, unknown>, cfg: Record<string, unknown>): boolean {
  const re = cfg['ref-regex'];
  if (re === undefined || re === null || re === '') return true;
  const ref = (data.trigger_metadata as Record<string, unknown> | undefined)?.ref;
  if (typeof ref !== 'string') return false;
  try {
    return new RegExp(`^(?:${str(re)})`).test(ref);
  } catch {
    return false;
  }
}

function validateRefRegex(cfg: Record<string, unknown>): string | null {
  const re = cfg['ref-regex'];
  if (re === undefined || re === null || re === '') return null;
  if (typeof re !== 'string') return 'ref-regex must be a string';
  try {
    new RegExp(re);
    return null;
  } catch {
    return `Invalid ref-regex: ${re}`;
  }
}

const SAMPLE_TRIGGER = {
  trigger_id: '1245634',
  trigger_kind: 'GitHub',
  trigger_metadata: {
    default_branch: 'master',
    ref: 'refs/heads/somebranch',
    commit: '42d4a62c53350993ea41069e9f2cfdefb0df097d',
    commit_info: {
      url: 'http://path/to/the/commit',
      message: 'Some commit message',
      date: 1476981260,
      author: { username: 'fakeauthor', url: 'http://path/to/fake/author/in/scm', avatar_url: 'http://www.gravatar.com/avatar/fakehash' },
    },
  },
};

function buildKind(name: string, verb: string, level: EventLevel, extraSample: Record<string, unknown> = {}): EventKind {
  return {
    name,
    scope: 'repository',
    level: () => level,
    summary: (d) => `Build ${verb} for repository ${str(d.repository)} [${str(d.build_id).slice(0, 7)}]`,
    html: (d) => {
      const tags = list(d.docker_tags);
      const meta = d.trigger_metadata as Record<string, unknown> | undefined;
      const commit = meta?.commit ? ` from commit <code>${escapeHtml(str(meta.commit).slice(0, 7))}</code>` : '';
      const err = d.error_message ? `<br><br>Error: ${escapeHtml(d.error_message)}` : '';
      return `Build <a href="${escapeHtml(d.homepage)}">${escapeHtml(d.build_name ?? str(d.build_id).slice(0, 7))}</a> ${verb} for repository ${repoLink(d)}${commit}${tags.length ? `, tags ${tags.map(escapeHtml).join(', ')}` : ''}.${err}`;
    },
    shouldPerform: refRegexMatches,
    validateConfig: validateRefRegex,
    sample: () => ({
      build_id: 'fake-build-id',
      build_name: 'some-fake-build',
      docker_tags: ['latest', 'foo', 'bar'],
      ...SAMPLE_TRIGGER,
      ...extraSample,
    }),
  };
}

function mirrorKind(name: string, verb: string, level: EventLevel): EventKind {
  return {
    name,
    scope: 'repository',
    level: () => level,
    summary: (d) => `Repository Mirror ${verb} for ${str(d.message)}`,
    html: (d) => `Repository mirror ${verb} for ${repoLink(d)}: ${escapeHtml(d.message)}`,
    shouldPerform: noFilter,
    validateConfig: noConfig,
    sample: () => ({ message: 'TEST NOTIFICATION' }),
  };
}

function quotaKind(name: 'quota_warning' | 'quota_error'): EventKind {
  return {
    name,
    scope: 'namespace',
    level: () => (name === 'quota_error' ? 'error' : 'warning'),
    summary: (d) => `Namespace ${str(d.namespace)} storage usage has reached ${str(d.usage_percent)}% of its quota limit`,
    html: (d) =>
      `The namespace <a href="${escapeHtml(d.homepage)}">${escapeHtml(d.namespace)}</a> uses ${escapeHtml(d.usage_bytes_formatted)} of its ` +
      `${escapeHtml(d.limit_bytes_formatted)} quota (${escapeHtml(d.usage_percent)}%), over its ${escapeHtml(d.threshold_percent)}% ` +
      `${name === 'quota_error' ? 'reject limit: pushes are refused' : 'warning limit'}.`,
    shouldPerform: noFilter,
    validateConfig: noConfig,
    sample: () => ({
      threshold_percent: name === 'quota_error' ? 100 : 80,
      usage_bytes: 858993459,
      limit_bytes: 1073741824,
      usage_percent: 80,
      usage_bytes_formatted: '819.2 MiB',
      limit_bytes_formatted: '1.0 GiB',
    }),
  };
}

const KINDS: EventKind[] = [
  {
    name: 'repo_push',
    scope: 'repository',
    level: () => 'primary',
    summary: (d) => `Repository ${str(d.repository)} updated`,
    html: (d) => {
      const tags = list(d.updated_tags);
      return tags.length ? `Repository ${repoLink(d)} has been pushed with the following tags updated: ${tagLinks(d, tags)}` : `Repository ${repoLink(d)} has been pushed`;
    },
    shouldPerform: noFilter,
    validateConfig: noConfig,
    sample: () => ({ updated_tags: ['latest', 'foo'], pruned_image_count: 3 }),
  },
  buildKind('build_queued', 'queued', 'info', { is_manual: false, manual_user: null, repo: 'sample' }),
  buildKind('build_start', 'started', 'info'),
  buildKind('build_success', 'succeeded', 'success', { image_id: '1245657346', manifest_digests: ['sha256:' + '0'.repeat(64)] }),
  buildKind('build_failure', 'failure', 'error', { error_message: 'This is a fake error message' }),
  buildKind('build_cancelled', 'cancelled', 'info'),
  {
    name: 'vulnerability_found',
    scope: 'repository',
    level: (d) => {
      const i = priorityIndex((d.vulnerability as Record<string, unknown> | undefined)?.priority);
      return i === 0 ? 'error' : i === 1 || i === 2 ? 'warning' : 'info';
    },
    summary: (d) => {
      const v = (d.vulnerability ?? {}) as Record<string, unknown>;
      return `${str(v.priority)} vulnerability detected in repository ${str(d.repository)} in ${list(d.tags).length} tags`;
    },
    html: (d) => {
      const v = (d.vulnerability ?? {}) as Record<string, unknown>;
      return (
        `A ${escapeHtml(v.priority)} vulnerability <a href="${escapeHtml(v.link)}">${escapeHtml(v.id)}</a> was detected in repository ${repoLink(d)} ` +
        `in tags ${tagLinks(d, list(d.tags))}.<br><br>${escapeHtml(v.description)}${v.has_fix ? '<br><br>A fix is available.' : ''}`
      );
    },
    // Unlike Quay, the level also filters the events of a manifest's first index (`vulnerable_index_report_created`):
    // a notification set to Critical is not sent the High findings of every push.
    shouldPerform: (d, cfg) => {
      if (cfg.level === undefined || cfg.level === null || cfg.level === '') return true;
      const found = priorityIndex((d.vulnerability as Record<string, unknown> | undefined)?.priority);
      if (found < 0) return false;
      const wanted = typeof cfg.level === 'number' ? cfg.level : priorityIndex(cfg.level);
      return wanted >= 0 && found <= wanted;
    },
    validateConfig: (cfg) => {
      if (cfg.level === undefined || cfg.level === null || cfg.level === '') return null;
      if (typeof cfg.level === 'number' && Number.isInteger(cfg.level) && cfg.level >= 0 && cfg.level < VULNERABILITY_PRIORITIES.length) return null;
      if (priorityIndex(cfg.level) >= 0) return null;
      return `Invalid vulnerability level: ${str(cfg.level)}`;
    },
    sample: () => ({
      tags: ['latest', 'prod', 'foo', 'bar', 'baz'],
      vulnerability: {
        id: 'CVE-FAKE-CVE',
        description: 'A futurist vulnerability',
        link: 'https://security-tracker.debian.org/tracker/CVE-FAKE-CVE',
        priority: 'Critical',
        has_fix: true,
      },
    }),
  },
  mirrorKind('repo_mirror_sync_started', 'started', 'info'),
  mirrorKind('repo_mirror_sync_success', 'successful', 'success'),
  mirrorKind('repo_mirror_sync_failed', 'failed', 'error'),
  {
    name: 'repo_image_expiry',
    scope: 'repository',
    level: () => 'info',
    summary: (d) => `Repository ${str(d.repository)} image(s) expiring`,
    html: (d) => `The following tags of repository ${repoLink(d)} expire in ${escapeHtml(d.expiring_in)}: ${tagLinks(d, list(d.tags))}`,
    shouldPerform: noFilter,
    validateConfig: (cfg) => {
      const days = cfg.days;
      const n = typeof days === 'string' && /^[0-9]+$/.test(days) ? Number(days) : days;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 365) return 'days must be a whole number of days between 1 and 365';
      return null;
    },
    sample: (ctx) => ({ notification_uuid: ctx.notificationUuid, tags: ['latest', 'v1'], expiring_in: '1 days' }),
  },
  quotaKind('quota_warning'),
  quotaKind('quota_error'),
];

export const EVENT_KINDS: ReadonlyMap<string, EventKind> = new Map(KINDS.map((k) => [k.name, k]));
export const REPOSITORY_EVENTS = KINDS.filter((k) => k.scope === 'repository').map((k) => k.name);
export const NAMESPACE_EVENTS = KINDS.filter((k) => k.scope === 'namespace').map((k) => k.name);

export function eventKind(name: string): EventKind | undefined {
  return EVENT_KINDS.get(name);
}

/** The number of days of a repo_image_expiry event config. */
export function expiryDays(cfg: Record<string, unknown>): number {
  return Number(cfg.days);
}
