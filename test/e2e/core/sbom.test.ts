/**
 * Quay 3.8's default ALLOWED_OCI_ARTIFACT_TYPES (config.py) with a real client: oras pushes an SPDX SBOM as
 * Quay's documentation shows (image config, `text/spdx` layer) and a CycloneDX one, pulls them back byte for
 * byte; a layer type no default lists is still refused. No ALLOWED_OCI_ARTIFACT_TYPES in the config.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { INSECURE, clientSandbox } from '../../setup/tools.js';

let reg: RegistryProcess;

beforeAll(async () => {
  reg = await startRegistry({ label: 'sbom', config: { SUPER_USERS: ['admin'] } });
});

afterAll(async () => {
  await reg?.stop();
});

test('oras pushes text/spdx and CycloneDX SBOM layers with the default artifact types and pulls them back', async () => {
  const c = clientSandbox('oras-sbom');
  await c.run('oras', ['login', ...INSECURE.oras, '-u', reg.admin.username, '-p', reg.admin.password, reg.hostPort]);
  const spdx = 'SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: app\n';
  const cyclonedx = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [] });
  writeFileSync(join(c.dir, 'sbom.spdx'), spdx);
  writeFileSync(join(c.dir, 'bom.json'), cyclonedx);
  writeFileSync(join(c.dir, 'config.json'), JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const config = ['--config', 'config.json:application/vnd.oci.image.config.v1+json'];
  const ref = `${reg.hostPort}/admin/app-sbom`;
  await c.run('oras', ['push', ...INSECURE.oras, ...config, `${ref}:spdx`, 'sbom.spdx:text/spdx']);
  await c.run('oras', ['push', ...INSECURE.oras, ...config, `${ref}:cyclonedx`, 'bom.json:application/vnd.cyclonedx+json']);
  await c.run('oras', ['pull', ...INSECURE.oras, '-o', join(c.dir, 'out-spdx'), `${ref}:spdx`]);
  await c.run('oras', ['pull', ...INSECURE.oras, '-o', join(c.dir, 'out-cdx'), `${ref}:cyclonedx`]);
  expect(readFileSync(join(c.dir, 'out-spdx', 'sbom.spdx'), 'utf8')).toBe(spdx);
  expect(readFileSync(join(c.dir, 'out-cdx', 'bom.json'), 'utf8')).toBe(cyclonedx);
  const manifest = JSON.parse((await c.run('oras', ['manifest', 'fetch', ...INSECURE.oras, `${ref}:spdx`])).stdout);
  expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(['text/spdx']);

  // As in Quay, a layer type any default lists is accepted with every listed config type: an SBOM beside a chart.
  writeFileSync(join(c.dir, 'chart.json'), JSON.stringify({ name: 'app', version: '1.0.0', apiVersion: 'v2' }));
  await c.run('oras', ['push', ...INSECURE.oras, '--config', 'chart.json:application/vnd.cncf.helm.config.v1+json', `${ref}:chart-sbom`, 'sbom.spdx:text/spdx']);
  // An unknown config type is refused, whatever its layers.
  const refused = await c.run('oras', ['push', ...INSECURE.oras, '--config', 'config.json:application/vnd.example.unlisted.config+json', `${ref}:bad`, 'sbom.spdx:text/spdx'], {
    allowFail: true,
  });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr + refused.stdout).toMatch(/ALLOWED_OCI_ARTIFACT_TYPES/);
});
