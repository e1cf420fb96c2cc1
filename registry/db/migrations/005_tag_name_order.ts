/** Tag listings page in byte order (`COLLATE "C"`); this index gives that order without a sort per request. */
export default `
CREATE INDEX tag_name_bytes ON tag (repository_id, (name COLLATE "C"));
`;
