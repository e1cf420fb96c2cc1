/**
 * The list every management page shows: a toolbar (filter, create button, extra items), a table whose rows
 * end in a kebab of actions, a confirmation before destructive actions, the create modal, and the loading,
 * error and empty states. Actions that call the API go through useRunAction: a success toast, Quay's
 * error text in a danger toast, then the queries named in `invalidates` reload.
 */
import { useState, type ReactNode } from 'react';
import { Button, SearchInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { ActionsColumn, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useInvalidate } from '../api/hooks';
import { useAlert } from './alerts';
import { useRunAction } from './runAction';
import { Empty, ErrorState, FormModal, Loading } from './common';

export interface Column<T> {
  title: string;
  cell: (row: T) => ReactNode;
}

export interface RowAction<T> {
  title: string;
  /** Opens something (a modal, a page); nothing to confirm or report. */
  open?: (row: T) => void;
  /** Calls the API; `done` names the success toast. */
  run?: (row: T) => Promise<unknown>;
  done?: (row: T) => string;
  /** Ask first, with this question (the action's title is the confirm button). */
  confirm?: (row: T) => string;
}

export interface CreateAction {
  /** The toolbar button, the modal's title and its submit button unless told otherwise. */
  label: string;
  submitLabel?: string;
  submitDisabled?: boolean;
  /** Resolves when created; throws to show the error inside the modal. */
  onSubmit: () => Promise<unknown>;
  /** The success toast, or how to word it from what onSubmit resolved to. */
  done: string | ((created: unknown) => string);
  /** Called whenever the modal closes (reset the form). */
  onClose?: () => void;
  fields: ReactNode;
}

interface Props<T> {
  label: string;
  query: { data?: T[]; isLoading: boolean; error: unknown };
  rowKey: (row: T) => string;
  columns: Column<T>[];
  actions?: (row: T) => RowAction<T>[];
  create?: CreateAction;
  /** More toolbar items after the create button. */
  toolbar?: ReactNode;
  /** Client-side name filter over the fetched rows. */
  filterText?: (row: T) => string;
  empty: { title: string; body?: ReactNode };
  invalidates: unknown[][];
  rowTestId?: string;
}

export default function ListWithActions<T>({ label, query, rowKey, columns, actions, create, toolbar, filterText, empty, invalidates, rowTestId = 'table-entry' }: Props<T>) {
  const run = useRunAction(invalidates);
  const invalidate = useInvalidate();
  const alert = useAlert();
  const [creating, setCreating] = useState(false);
  const [confirming, setConfirming] = useState<{ action: RowAction<T>; row: T } | null>(null);
  const [filter, setFilter] = useState('');
  const rows = (query.data ?? []).filter((r) => !filterText || filterText(r).includes(filter));
  const select = (action: RowAction<T>, row: T) => {
    if (action.open) action.open(row);
    else if (action.confirm) setConfirming({ action, row });
    else if (action.run) void run(action.done?.(row) ?? action.title, () => action.run!(row));
  };
  const body = () => {
    if (query.isLoading) return <Loading />;
    if (query.error) return <ErrorState error={query.error} />;
    if (!query.data?.length) return <Empty title={empty.title}>{empty.body}</Empty>;
    return (
      <Table aria-label={label} variant="compact">
        <Thead>
          <Tr>
            {columns.map((c) => (
              <Th key={c.title}>{c.title}</Th>
            ))}
            {actions && <Th screenReaderText="Actions" />}
          </Tr>
        </Thead>
        <Tbody>
          {rows.map((row) => {
            const items = actions?.(row) ?? [];
            return (
              <Tr key={rowKey(row)} data-testid={rowTestId}>
                {columns.map((c) => (
                  <Td key={c.title} dataLabel={c.title}>
                    {c.cell(row)}
                  </Td>
                ))}
                {actions && <Td isActionCell>{items.length > 0 && <ActionsColumn items={items.map((a) => ({ title: a.title, onClick: () => select(a, row) }))} />}</Td>}
              </Tr>
            );
          })}
        </Tbody>
      </Table>
    );
  };
  return (
    <>
      {(create || toolbar || filterText) && (
        <Toolbar>
          <ToolbarContent>
            {filterText && (
              <ToolbarItem>
                <SearchInput
                  placeholder="Filter by name"
                  aria-label={`Filter ${label.toLowerCase()} by name`}
                  value={filter}
                  onChange={(_e, v) => setFilter(v)}
                  onClear={() => setFilter('')}
                />
              </ToolbarItem>
            )}
            {create && (
              <ToolbarItem>
                <Button onClick={() => setCreating(true)}>{create.label}</Button>
              </ToolbarItem>
            )}
            {toolbar}
          </ToolbarContent>
        </Toolbar>
      )}
      {body()}
      {create && (
        <FormModal
          title={create.label}
          isOpen={creating}
          onClose={() => {
            setCreating(false);
            create.onClose?.();
          }}
          submitLabel={create.submitLabel ?? create.label}
          submitDisabled={create.submitDisabled}
          onSubmit={async () => {
            const created = await create.onSubmit();
            alert('success', typeof create.done === 'string' ? create.done : create.done(created));
            await invalidate(...invalidates);
          }}
        >
          {create.fields}
        </FormModal>
      )}
      {confirming && (
        <FormModal
          title={`${confirming.action.title}?`}
          isOpen
          danger
          onClose={() => setConfirming(null)}
          submitLabel={confirming.action.title}
          onSubmit={async () => {
            const { action, row } = confirming;
            // An error stays in the modal; success closes it and toasts like any other action.
            await action.run!(row);
            alert('success', action.done?.(row) ?? action.title);
            await invalidate(...invalidates);
          }}
        >
          <p>{confirming.action.confirm!(confirming.row)}</p>
        </FormModal>
      )}
    </>
  );
}
