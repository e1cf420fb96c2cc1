/**
 * After a failed delivery a notification's pending deliveries wait until `paused_until` instead of each
 * failing on its own: number_of_failures counts failed rounds, so one receiver outage is one strike, not one
 * per queued event.
 */
export default `
ALTER TABLE repository_notification ADD COLUMN paused_until TIMESTAMPTZ;
ALTER TABLE namespace_notification ADD COLUMN paused_until TIMESTAMPTZ;
`;
