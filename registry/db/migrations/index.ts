/** Every schema migration in order. Add new ones at the end; never edit one that has shipped. */
import core from './001_core.js';
import tenancy from './002_tenancy.js';
import lifecycle from './003_lifecycle.js';
import inviteNotifications from './004_invite_notifications.js';
import tagNameOrder from './005_tag_name_order.js';
import tagVersion from './006_tag_version.js';
import uploadSegments from './010_upload_segments.js';
import manifestChildDeferred from './011_manifest_child_deferred.js';
import quotaDeletedNamespace from './012_quota_deleted_namespace.js';
import queue from './030_queue.js';
import repositoryNotifications from './031_notifications.js';
import notificationPause from './032_notification_pause.js';
import repositoryState from './040_repository_state.js';
import globalMessages from './041_global_messages.js';
import serviceKeys from './042_service_keys.js';
import repositoryDescriptionNull from './044_repository_description_null.js';
import proxyCache from './050_proxy_cache.js';
import repoMirror from './051_repo_mirror.js';
import proxyBlobFill from './052_proxy_blob_fill.js';
import proxyTagCheck from './033_proxy_tag_check.js';
import proxyBlobFillPieces from './055_proxy_blob_fill_pieces.js';
import proxyBlobFillSegment from './056_proxy_blob_fill_segment.js';
import proxyBlobFillHolder from './057_proxy_blob_fill_holder.js';
import emailConfirmation from './090_email_confirmation.js';
import proxyWarmPull from './054_proxy_warm_pull.js';
import proxyManifestFill from './053_proxy_manifest_fill.js';
import loginBackoff from './020_login_backoff.js';
import securityScan from './060_security_scan.js';
import builds from './070_builds.js';
import buildTriggers from './075_build_triggers.js';
import cacheNotify from './080_cache_notify.js';
import tagCreateQuiet from './081_tag_create_quiet.js';
import badgeToken from './043_badge_token.js';
import uploadFinished from './007_upload_finished.js';

export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'core', sql: core },
  { version: 2, name: 'tenancy', sql: tenancy },
  { version: 3, name: 'lifecycle', sql: lifecycle },
  { version: 4, name: 'invite notifications', sql: inviteNotifications },
  { version: 5, name: 'tag name order', sql: tagNameOrder },
  { version: 6, name: 'tag version', sql: tagVersion },
  { version: 10, name: 'upload segments', sql: uploadSegments },
  { version: 11, name: 'manifest child checked at commit', sql: manifestChildDeferred },
  { version: 12, name: 'quota skips deleted namespaces', sql: quotaDeletedNamespace },
  { version: 30, name: 'work queue', sql: queue },
  { version: 31, name: 'repository and namespace notifications', sql: repositoryNotifications },
  { version: 32, name: 'notification pause', sql: notificationPause },
  { version: 40, name: 'repository state', sql: repositoryState },
  { version: 41, name: 'global messages', sql: globalMessages },
  { version: 50, name: 'proxy cache', sql: proxyCache },
  { version: 51, name: 'repository mirroring', sql: repoMirror },
  { version: 20, name: 'login backoff', sql: loginBackoff },
  { version: 60, name: 'security scan', sql: securityScan },
  { version: 70, name: 'repository builds', sql: builds },
  { version: 42, name: 'service keys', sql: serviceKeys },
  { version: 75, name: 'build triggers and user files', sql: buildTriggers },
  { version: 80, name: 'cache notifications', sql: cacheNotify },
  { version: 52, name: 'proxy blob fill leases', sql: proxyBlobFill },
  { version: 43, name: 'repository badge token', sql: badgeToken },
  { version: 53, name: 'proxy manifest fill leases', sql: proxyManifestFill },
  { version: 7, name: 'finished upload sessions', sql: uploadFinished },
  { version: 44, name: 'repository description null', sql: repositoryDescriptionNull },
  { version: 54, name: 'proxy warm pull without cache churn', sql: proxyWarmPull },
  { version: 81, name: 'tag creation sends no cache notification', sql: tagCreateQuiet },
  { version: 55, name: 'proxy blob fill pieces', sql: proxyBlobFillPieces },
  { version: 56, name: 'proxy blob fill growing segment', sql: proxyBlobFillSegment },
  { version: 33, name: 'proxy tag upstream checks', sql: proxyTagCheck },
  { version: 90, name: 'e-mail confirmation and recovery codes', sql: emailConfirmation },
  { version: 57, name: 'proxy blob fill holder liveness', sql: proxyBlobFillHolder },
];
