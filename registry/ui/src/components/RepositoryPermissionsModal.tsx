/**
 * "Set repository permissions" for a team or a robot: every repository of the namespace with the entity's
 * role on it (None, Read, Write, Admin). Saving sends one call per changed repository (PUT the role, DELETE
 * for None) and names the ones that failed.
 */
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { api, enc, repoPath } from '../api/client';
import { useInvalidate } from '../api/hooks';
import { errorMessage, useAlert } from './alerts';
import { Empty, ErrorState, FormModal, Loading } from './common';
import RoleSelect from './RoleSelect';

interface Props {
  namespace: string;
  /** `user` for robots (their permissions live with the users'), `team` for teams. */
  entity: { kind: 'user' | 'team'; name: string };
  /** GET answering `{permissions: [{repository: {name}, role}]}` for the entity. */
  permissionsPath: string;
  onClose: () => void;
}

const NONE = 'none';

/** Every repository of the namespace, following `next_page`. */
export async function allRepositories(namespace: string): Promise<string[]> {
  const names: string[] = [];
  let page: string | undefined;
  do {
    const r = await api.get<{ repositories: { name: string }[]; next_page?: string }>(`/repository?namespace=${enc(namespace)}${page ? `&next_page=${enc(page)}` : ''}`);
    names.push(...r.repositories.map((x) => x.name));
    page = r.next_page;
  } while (page);
  return names;
}

export default function RepositoryPermissionsModal({ namespace, entity, permissionsPath, onClose }: Props) {
  const invalidate = useInvalidate();
  const alert = useAlert();
  const q = useQuery({
    queryKey: ['entity-permissions', namespace, entity.kind, entity.name],
    gcTime: 0,
    queryFn: async () => {
      const [repos, perms] = await Promise.all([allRepositories(namespace), api.get<{ permissions: { repository: { name: string }; role: string }[] }>(permissionsPath)]);
      const current = Object.fromEntries(perms.permissions.map((p) => [p.repository.name, p.role]));
      return repos.map((name) => ({ name, role: current[name] ?? NONE }));
    },
  });
  const [changes, setChanges] = useState<Record<string, string>>({});
  const roleOf = (repo: { name: string; role: string }) => changes[repo.name] ?? repo.role;
  const save = async () => {
    const changed = (q.data ?? []).filter((r) => roleOf(r) !== r.role);
    const path = (repo: string) => `${repoPath(namespace, repo)}/permissions/${entity.kind}/${enc(entity.name)}`;
    const results = await Promise.allSettled(changed.map((r) => (roleOf(r) === NONE ? api.del(path(r.name)) : api.put(path(r.name), { role: roleOf(r) }))));
    await invalidate(['entity-permissions', namespace], ['robots', namespace], ['organization', namespace], ['permissions', namespace]);
    const failed = results.flatMap((res, i) => (res.status === 'rejected' ? [`${changed[i].name}: ${errorMessage(res.reason)}`] : []));
    if (failed.length) throw new Error(`Not changed: ${failed.join('; ')}`);
    alert('success', `Repository permissions of ${entity.name} saved`);
  };
  return (
    <FormModal title={`Set repository permissions for ${entity.name}`} isOpen onClose={onClose} submitLabel="Save" onSubmit={save} variant="medium">
      {q.isLoading ? (
        <Loading />
      ) : q.error ? (
        <ErrorState error={q.error} />
      ) : q.data!.length === 0 ? (
        <Empty title={`${namespace} has no repositories yet`} />
      ) : (
        <Table aria-label="Repository permissions" variant="compact">
          <Thead>
            <Tr>
              <Th>Repository</Th>
              <Th>Permission</Th>
            </Tr>
          </Thead>
          <Tbody>
            {q.data!.map((r) => (
              <Tr key={r.name} data-testid="repo-permission">
                <Td dataLabel="Repository">{r.name}</Td>
                <Td dataLabel="Permission">
                  <RoleSelect
                    id={`perm-${r.name}`}
                    label={`Permission on ${r.name}`}
                    roles={[NONE, 'read', 'write', 'admin']}
                    value={roleOf(r)}
                    onChange={(v) => setChanges({ ...changes, [r.name]: v })}
                  />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
    </FormModal>
  );
}
