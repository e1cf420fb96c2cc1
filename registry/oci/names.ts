/** Name rules: repositories (OCI + Quay), tags, namespaces. */

/** OCI repository path component. */
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const OCI_NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
/** Quay namespace (user, org, robot short name): lowercase alphanumerics with single separators, 2-255. */
export const NAMESPACE_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export const MAX_REPOSITORY_PATH = 255;

export interface RepoRef {
  namespace: string;
  name: string;
  /** `namespace/name` */
  full: string;
}

export class NameError extends Error {}

export function validNamespaceName(name: string): boolean {
  return name.length >= 2 && name.length <= 255 && NAMESPACE_PATTERN.test(name);
}

/**
 * Split a repository path into namespace and repository name, applying the library namespace to
 * single-segment names. Throws NameError with a reason when the name is invalid.
 */
export function parseRepositoryPath(path: string, opts: { libraryNamespace: string | null; extendedNames: boolean }): RepoRef {
  if (path.length === 0) throw new NameError('repository name is empty');
  if (path.length > MAX_REPOSITORY_PATH) throw new NameError(`repository name is longer than ${MAX_REPOSITORY_PATH} characters`);
  if (!OCI_NAME.test(path))
    throw new NameError(`invalid repository name "${path}": use lowercase letters, digits and single separators (. _ __ -) between "/"-separated components`);
  const slash = path.indexOf('/');
  let namespace: string;
  let name: string;
  if (slash < 0) {
    if (!opts.libraryNamespace) throw new NameError(`repository name "${path}" needs a namespace ("namespace/${path}")`);
    namespace = opts.libraryNamespace;
    name = path;
  } else {
    namespace = path.slice(0, slash);
    name = path.slice(slash + 1);
  }
  if (!validNamespaceName(namespace)) throw new NameError(`invalid namespace "${namespace}"`);
  if (!opts.extendedNames && name.includes('/')) throw new NameError('Nested repositories are not supported');
  return { namespace, name, full: `${namespace}/${name}` };
}

export function validTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}
