/**
 * The durable work queue (Quay's QueueItem): one table for every named queue. An item is claimable when its
 * `available_after` has passed and it is not leased (or its lease has lapsed) and it has retries left.
 */
export default `
CREATE TABLE queue_item (
  id BIGSERIAL PRIMARY KEY,
  queue_name TEXT NOT NULL,
  -- Quay's path under the queue name (namespace first for namespace-aware queues), joined with '/'
  path TEXT NOT NULL DEFAULT '',
  body JSONB NOT NULL,
  available_after TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- set while leased; the item is claimable again once it has passed
  processing_expires TIMESTAMPTZ,
  retries_remaining INT NOT NULL,
  -- changes at every lease: completing or retrying needs the current one, so a lapsed lease cannot act
  state_id UUID NOT NULL DEFAULT gen_random_uuid(),
  attempts INT NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX queue_item_claim ON queue_item (queue_name, available_after) WHERE retries_remaining > 0;
CREATE INDEX queue_item_path ON queue_item (queue_name, path text_pattern_ops);
`;
