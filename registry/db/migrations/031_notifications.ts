/**
 * Notification configurations (Quay's RepositoryNotification and NamespaceNotification), the e-mail addresses
 * authorized per repository, and which expiring tags each repo_image_expiry notification has reported.
 */
export default `
CREATE TABLE repository_notification (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  method TEXT NOT NULL,
  title TEXT,
  config JSONB NOT NULL DEFAULT '{}',
  event_config JSONB NOT NULL DEFAULT '{}',
  -- consecutive failed deliveries; at 3 the notification is disabled until reset
  number_of_failures INT NOT NULL DEFAULT 0,
  -- when the repo_image_expiry scan last ran for it
  last_ran_ms BIGINT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX repository_notification_event ON repository_notification (repository_id, event);

CREATE TABLE namespace_notification (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  namespace_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  method TEXT NOT NULL,
  title TEXT,
  config JSONB NOT NULL DEFAULT '{}',
  event_config JSONB NOT NULL DEFAULT '{}',
  number_of_failures INT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX namespace_notification_event ON namespace_notification (namespace_id, event);

-- An address may receive e-mail notifications of a repository once confirmed through the mailed link.
CREATE TABLE repository_authorized_email (
  id BIGSERIAL PRIMARY KEY,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  code TEXT NOT NULL UNIQUE,
  confirmed BOOLEAN NOT NULL DEFAULT false,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX repository_authorized_email_addr ON repository_authorized_email (repository_id, lower(email));

-- A tag reported by a repo_image_expiry notification is not reported again by it.
CREATE TABLE tag_notification_success (
  notification_id BIGINT NOT NULL REFERENCES repository_notification(id) ON DELETE CASCADE,
  tag_id BIGINT NOT NULL REFERENCES tag(id) ON DELETE CASCADE,
  PRIMARY KEY (notification_id, tag_id)
);
CREATE INDEX tag_notification_success_tag ON tag_notification_success (tag_id);

-- Quota events fire once per (namespace, threshold) per cooldown.
CREATE TABLE quota_event_state (
  namespace_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  threshold_percent INT NOT NULL,
  last_fired_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (namespace_id, event, threshold_percent)
);
`;
