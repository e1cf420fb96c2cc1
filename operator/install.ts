/**
 * Installing the operator without OLM, derived from the OLM bundle so the three never drift: the CSV
 * (bundle/manifests) is the one source of the ServiceAccount, the RBAC and the Deployment (command
 * line, env, resources), and crds/ of the CRD. `npm run operator:manifests` writes
 *   bundle/install/quay-ts-operator.yaml   one `kubectl apply -f` manifest
 *   bundle/helm/quay-ts-operator/          a Helm chart with the usual values
 * and test/k8s/install.test.ts fails when the committed files differ from what this renders.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export const INSTALL_NAMESPACE = 'quay-operator';
export const MANIFEST_PATH = 'bundle/install/quay-ts-operator.yaml';
export const CHART_DIR = 'bundle/helm/quay-ts-operator';
const CSV_PATH = 'bundle/manifests/quay-ts-operator.clusterserviceversion.yaml';
const CRD_PATH = 'crds/quay.redhat.com_quayregistries.yaml';

type Obj = Record<string, any>;

/** What OLM reads from the CSV to install the operator. */
interface Install {
  name: string;
  version: string;
  serviceAccount: string;
  rules: Obj[];
  deployment: Obj;
  quayVersion: string;
}

function fromCsv(csv: Obj): Install {
  const spec = csv.spec.install.spec;
  if (spec.deployments.length !== 1 || spec.clusterPermissions.length !== 1 || spec.permissions?.length) {
    throw new Error('the plain install expects one Deployment and one set of cluster permissions in the CSV');
  }
  return {
    name: spec.deployments[0].name,
    version: csv.spec.version,
    serviceAccount: spec.clusterPermissions[0].serviceAccountName,
    rules: spec.clusterPermissions[0].rules,
    deployment: spec.deployments[0].spec,
    quayVersion: csv.metadata.annotations['quay-version'],
  };
}

/**
 * The operator Deployment outside OLM: OLM fills WATCH_NAMESPACE from the OperatorGroup and
 * QUAY_VERSION from the CSV annotation through the pod's annotations; here both are plain values.
 */
function deployment(i: Install, namespace: string, watchNamespace: string): Obj {
  const spec = structuredClone(i.deployment);
  const container = spec.template.spec.containers[0];
  container.env = container.env.map((e: Obj) => {
    if (e.name === 'WATCH_NAMESPACE') return { name: e.name, value: watchNamespace };
    if (e.name === 'QUAY_VERSION') return { name: e.name, value: i.quayVersion };
    return e;
  });
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: i.name, namespace, labels: { 'app.kubernetes.io/name': i.name } }, spec };
}

/** Every object of the plain install, in apply order (the CRD and namespace first). */
export function installObjects(csv: Obj, crd: Obj, opts: { namespace?: string; watchNamespace?: string } = {}): Obj[] {
  const i = fromCsv(csv);
  const namespace = opts.namespace ?? INSTALL_NAMESPACE;
  const labels = { 'app.kubernetes.io/name': i.name };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    crd,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: i.serviceAccount, namespace, labels } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: i.serviceAccount, labels }, rules: i.rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: i.serviceAccount, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: i.serviceAccount },
      subjects: [{ kind: 'ServiceAccount', name: i.serviceAccount, namespace }],
    },
    deployment(i, namespace, opts.watchNamespace ?? ''),
  ];
}

const dump = (o: Obj) => yaml.dump(o, { lineWidth: -1, noRefs: true });
const HEADER = '# Generated from the OLM bundle by `npm run operator:manifests` (operator/install.ts); do not edit.\n';

export function manifest(csv: Obj, crd: Obj): string {
  return HEADER + installObjects(csv, crd).map(dump).join('---\n');
}

/**
 * Placeholders put into the rendered objects and replaced by Helm expressions: a scalar placeholder
 * becomes `{{ expr }}`, a block placeholder (`key: __BLOCK_x__`) becomes `key:` + `toYaml` at the
 * line's indentation.
 */
const SCALARS: Record<string, string> = {
  __NAMESPACE__: '{{ .Release.Namespace }}',
  __IMAGE__: '{{ .Values.image }}',
  __WATCH_NAMESPACE__: '{{ .Values.watchNamespace | quote }}',
  __QUAY_IMAGE__: '{{ .Values.relatedImages.quay | default .Values.image }}',
};
const BLOCKS: Record<string, string> = {
  __BLOCK_RESOURCES__: '.Values.resources',
  __BLOCK_TOLERATIONS__: '.Values.tolerations',
  __BLOCK_NODESELECTOR__: '.Values.nodeSelector',
};

function helmize(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const block = /^(\s*)([\w.-]+): (__BLOCK_\w+__)$/.exec(line);
      if (block) return `${block[1]}${block[2]}:\n${block[1]}  {{- toYaml ${BLOCKS[block[3]]} | nindent ${block[1].length + 2} }}`;
      return line.replace(/'?(__[A-Z_]+__)'?/g, (_, k: string) => SCALARS[k] ?? k);
    })
    .join('\n');
}

/** The chart's files, by path inside the chart directory. */
export function chart(csv: Obj, crd: Obj): Record<string, string> {
  const i = fromCsv(csv);
  const objs = installObjects(csv, crd, { namespace: '__NAMESPACE__', watchNamespace: '__WATCH_NAMESPACE__' }).filter(
    (o) => o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition',
  );
  const container = (d: Obj) => d.spec.template.spec.containers[0];
  const dep = objs.find((o) => o.kind === 'Deployment')!;
  const c = container(dep);
  const values = {
    image: c.image,
    watchNamespace: '',
    relatedImages: { quay: '' },
    resources: c.resources,
    tolerations: [],
    nodeSelector: {},
  };
  c.image = '__IMAGE__';
  c.resources = '__BLOCK_RESOURCES__';
  c.env = c.env.map((e: Obj) => (e.name === 'RELATED_IMAGE_COMPONENT_QUAY' ? { name: e.name, value: '__QUAY_IMAGE__' } : e));
  dep.spec.template.spec.tolerations = '__BLOCK_TOLERATIONS__';
  dep.spec.template.spec.nodeSelector = '__BLOCK_NODESELECTOR__';
  const note = '# Generated from the OLM bundle by `npm run operator:manifests` (operator/install.ts); do not edit.\n';
  return {
    'Chart.yaml':
      note +
      dump({
        apiVersion: 'v2',
        name: i.name,
        description: 'The quay-ts operator: Quay-compatible registries from QuayRegistry resources',
        type: 'application',
        version: i.version,
        appVersion: i.quayVersion,
      }),
    'values.yaml':
      note +
      '# image: the operator image (the project image). watchNamespace: one namespace to watch, empty for all.\n' +
      '# relatedImages.quay: the registry image it deploys (empty: the same image). resources, tolerations,\n' +
      '# nodeSelector: of the operator pod.\n' +
      dump(values),
    'crds/quayregistries.quay.redhat.com.yaml': readFileSync(join(root(), CRD_PATH), 'utf8'),
    'templates/operator.yaml': note + objs.map((o) => helmize(dump(o))).join('---\n'),
  };
}

function root(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '../..');
}

export function readBundle(base = root()): { csv: Obj; crd: Obj } {
  return {
    csv: yaml.load(readFileSync(join(base, CSV_PATH), 'utf8')) as Obj,
    crd: yaml.load(readFileSync(join(base, CRD_PATH), 'utf8')) as Obj,
  };
}

/** Everything `npm run operator:manifests` writes, by path from the repository root. */
export function renderInstall(base = root()): Record<string, string> {
  const { csv, crd } = readBundle(base);
  const files: Record<string, string> = { [MANIFEST_PATH]: manifest(csv, crd) };
  for (const [path, text] of Object.entries(chart(csv, crd))) files[join(CHART_DIR, path)] = text;
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [path, text] of Object.entries(renderInstall())) {
    mkdirSync(dirname(join(root(), path)), { recursive: true });
    writeFileSync(join(root(), path), text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
