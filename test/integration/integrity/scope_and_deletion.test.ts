/**
 * Issue 13, finding 8 (sec-blobs' items): an automatic mount needs a pull grant on the source in the token
 * itself, and a repository (and its organization) holding an index of indexes can be deleted. Finding 9: every
 * /v2 route and method names its action, and the dispatcher enforces it.
 */
import { V2_ROUTES } from '../../../registry/http/v2/routes.js';
import { startRegistry, registryToken, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob, sha256, OCI_INDEX, OCI_MANIFEST } from '../../helpers/v2.js';
import { signin, type Api } from '../api/fixture.js';

describe('mount scope and nested index deletion', () => {
  let reg: RegistryProcess;
  let c: V2Client;
  let api: Api;

  beforeAll(async () => {
    reg = await startRegistry({ label: 'scope-deletion' });
    c = V2Client.basic(reg);
    api = await signin(reg, reg.admin.username, reg.admin.password);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test('every /v2 route and method names an action, and the dispatcher enforces it for anonymous callers', async () => {
    const secret = randomBlob(100);
    expect((await c.pushBlob('admin/private', secret)).status).toBe(201);
    const session = (await c.req('POST', '/v2/admin/private/blobs/uploads/')).headers.get('location')!;
    const samples: Record<string, string> = {
      v2_base: '/v2/',
      v2_catalog: '/v2/_catalog',
      v2_tags: '/v2/admin/private/tags/list',
      v2_manifest: '/v2/admin/private/manifests/latest',
      v2_upload_start: '/v2/admin/private/blobs/uploads/',
      v2_upload: session,
      v2_blob: `/v2/admin/private/blobs/${secret.digest}`,
      v2_referrers: `/v2/admin/private/referrers/${secret.digest}`,
    };
    expect(Object.keys(samples).sort()).toEqual(V2_ROUTES.map((r) => r.name).sort());
    const anonymous = new V2Client(reg);
    for (const route of V2_ROUTES) {
      for (const [method, endpoint] of Object.entries(route.methods)) {
        expect(['pull', 'push', 'delete', 'none']).toContain(endpoint!.action);
        expect(route.repo || endpoint!.action === 'none').toBe(true);
        const res = await anonymous.req(method, samples[route.name]);
        // Without credentials every repository action is challenged, and so are the login probe and the catalog.
        expect({ route: route.name, method, status: res.status }).toEqual({ route: route.name, method, status: 401 });
      }
    }
    // The session and the blob were untouched by all of that.
    expect((await c.req('GET', session)).status).toBe(204);
    expect((await c.req('HEAD', `/v2/admin/private/blobs/${secret.digest}`)).status).toBe(200);
  });

  test('an automatic mount (no from) needs a pull grant on the source repository in the token', async () => {
    const secret = randomBlob(3000);
    expect((await c.pushBlob('admin/secret', secret)).status).toBe(201);
    const creds = reg.admin;
    const narrow = await registryToken(reg, ['repository:admin/other:pull,push'], creds);
    const tokenClient = new V2Client(reg, `Bearer ${narrow}`);
    const refused = await tokenClient.req('POST', `/v2/admin/other/blobs/uploads/?mount=${secret.digest}`);
    expect(refused.status).toBe(202); // an ordinary upload session: the token does not grant pull on admin/secret
    expect((await tokenClient.req('HEAD', `/v2/admin/other/blobs/${secret.digest}`)).status).toBe(404);

    const wide = await registryToken(reg, ['repository:admin/other:pull,push', 'repository:admin/secret:pull'], creds);
    const mounted = await new V2Client(reg, `Bearer ${wide}`).req('POST', `/v2/admin/other/blobs/uploads/?mount=${secret.digest}`);
    expect(mounted.status).toBe(201);
  });

  async function pushNestedIndex(repo: string): Promise<void> {
    const image = await c.pushImage(repo, 'leaf');
    const inner = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: image.digest, size: image.manifest.length }] });
    expect((await c.pushManifest(repo, 'inner', inner, OCI_INDEX)).status).toBe(201);
    const outer = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_INDEX, digest: sha256(inner), size: Buffer.byteLength(inner) }] });
    expect((await c.pushManifest(repo, 'outer', outer, OCI_INDEX)).status).toBe(201);
  }

  test('a repository, then its organization, holding an index whose child is an index can be deleted', async () => {
    await api.ok('POST', '/organization/', { name: 'nested', email: 'nested@example.com' });
    await pushNestedIndex('nested/one');
    await pushNestedIndex('nested/two');
    expect((await api.delete('/repository/nested/one')).status).toBe(204);
    expect((await api.get('/repository/nested/one')).status).toBe(404);
    expect((await api.delete('/organization/nested')).status).toBe(204);
    expect((await api.get('/organization/nested')).status).toBe(404);
  });
});
