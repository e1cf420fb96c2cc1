/**
 * A blob fill's lease names the process holding it by the application name of a connection that process keeps
 * open for as long as it lives (registry/proxy/fill.ts): a waiter that finds that connection gone from
 * pg_stat_activity takes the fill over at once instead of when the lease lapses. NULL: the lease alone.
 */
export default `
ALTER TABLE proxy_blob_fill ADD COLUMN holder TEXT;
`;
