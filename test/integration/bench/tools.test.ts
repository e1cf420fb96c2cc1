/** Every client and server binary of the bench is installed, runs, and is the pinned version. */
import { GO_TOOLS, runTool, tool, toolVersion } from '../../setup/tools.js';

/** The version install.sh pinned for a Go tool. */
const pinned = (name: (typeof GO_TOOLS)[number]) => toolVersion(name);

describe('test bench tools', () => {
  test('tool() names a missing tool in its error', () => {
    expect(() => tool('no-such-tool-quay-ts')).toThrow(/test tool "no-such-tool-quay-ts" is missing/);
  });

  test.each([
    ['oras', ['version'], () => new RegExp(`Version:\\s+${pinned('oras').slice(1).replace(/\./g, '\\.')}\\b`)],
    ['crane', ['version'], () => new RegExp(`^${pinned('crane').replace(/\./g, '\\.')}$`, 'm')],
    ['helm', ['version', '--short'], () => new RegExp(`^${pinned('helm').replace(/\./g, '\\.')}`)],
    ['cosign', ['version'], () => new RegExp(`GitVersion:\\s+${pinned('cosign').replace(/\./g, '\\.')}\\b`)],
    ['minio', ['--version'], () => /^minio version .*\nRuntime: go1\.\d+/m],
    ['distribution', ['--version'], () => new RegExp(`github\\.com/distribution/distribution/v3 ${pinned('distribution').replace(/\./g, '\\.')}\\b`)],
    ['ctr', ['--version'], () => new RegExp(`^ctr github\\.com/containerd/containerd/v2 ${pinned('ctr').replace(/\./g, '\\.')}\\b`, 'm')],
    ['containerd', ['--version'], () => new RegExp(`^containerd github\\.com/containerd/containerd/v2 ${pinned('containerd').replace(/\./g, '\\.')}\\b`, 'm')],
  ] as const)('%s prints its version', async (name, args, expected) => {
    const r = await runTool(name, [...args]);
    expect(r.stdout + r.stderr).toMatch(expected());
  });

  test.each([
    ['skopeo', ['--version'], /^skopeo version 1\.\d+/],
    ['podman', ['--version'], /^podman version [4-9]\.\d+/],
    ['buildah', ['--version'], /^buildah version 1\.\d+/],
    ['umoci', ['--version'], /^umoci version 0\.\d+/],
    ['docker-registry', ['--version'], /github\.com\/docker\/distribution v?2\.8\./],
    ['redis-server', ['--version'], /^Redis server v=7\./],
    ['postgres', ['--version'], /^postgres \(PostgreSQL\) 1[5-9]\./],
    ['initdb', ['--version'], /^initdb \(PostgreSQL\) 1[5-9]\./],
    ['wrk', ['-v'], /^wrk \S+/],
    ['jq', ['--version'], /^jq-1\.\d/],
    ['curl', ['--version'], /^curl \d+\./],
    ['chromium', ['--version'], /Chromium \d+\./],
  ] as const)('%s (Debian) prints its version', async (name, args, expected) => {
    const r = await runTool(name, [...args], { allowFail: name === 'wrk' });
    expect(r.stdout + r.stderr).toMatch(expected);
  });
});
