/** Repository states are Quay's: NORMAL, READ_ONLY (no writes), MIRROR (only the mirror robot pushes). */
export default `
ALTER TABLE repository ADD CONSTRAINT repository_state_known CHECK (state IN ('NORMAL', 'READ_ONLY', 'MIRROR'));
`;
