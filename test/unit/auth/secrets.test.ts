import { SecretBox } from '../../../registry/auth/secrets.js';
import { parseScopes } from '../../../registry/auth/principal.js';
import { credentialForms } from '../../../registry/auth/credential_forms.js';

describe('SecretBox', () => {
  const box = new SecretBox('material', 'purpose');

  test('seals and opens; each seal differs', () => {
    const a = box.seal('robot-token');
    expect(box.open(a)).toBe('robot-token');
    expect(box.seal('robot-token')).not.toBe(a);
  });

  test('a tampered value, or one sealed with another key or purpose, does not open', () => {
    const sealed = box.seal('secret');
    const raw = Buffer.from(sealed, 'base64url');
    raw[raw.length - 1] ^= 1;
    expect(box.open(raw.toString('base64url'))).toBeNull();
    expect(new SecretBox('other', 'purpose').open(sealed)).toBeNull();
    expect(new SecretBox('material', 'other').open(sealed)).toBeNull();
    expect(box.open('short')).toBeNull();
  });

  test('sealed JSON expires', () => {
    expect(box.openJson(box.sealJson({ start_id: 7 }, 60))).toEqual({ start_id: 7 });
    expect(box.openJson(box.sealJson({ start_id: 7 }, -1))).toBeNull();
  });
});

describe('scopes', () => {
  test('space- or comma-separated; any unknown scope invalidates the whole string', () => {
    expect([...parseScopes('repo:read repo:write')!]).toEqual(['repo:read', 'repo:write']);
    expect([...parseScopes('repo:read,org:admin')!]).toEqual(['repo:read', 'org:admin']);
    expect(parseScopes('repo:read repo:everything')).toBeNull();
    expect(parseScopes('direct_user_login')).toBeNull();
    expect(parseScopes('  ')).toBeNull();
  });
});

describe('credential forms', () => {
  test('quote the password for the shell and name files after the user', async () => {
    const f = await credentialForms('quay.example:8443', 'org+bot', "it's");
    expect(f.docker_login).toBe(`docker login -u='org+bot' -p='it'\\''s' quay.example:8443`);
    expect(f.podman_login.startsWith("podman login -u='org+bot'")).toBe(true);
    expect(f.kubernetes_secret_name).toBe('org-bot-pull-secret');
    expect(f.mesos_bundle_filename).toBe('org-bot-auth.tar.gz');
  });
});
