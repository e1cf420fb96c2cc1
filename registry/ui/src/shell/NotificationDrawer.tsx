/** The bell's drawer: the user's undismissed notifications, each dismissable. */
import {
  Button,
  Flex,
  NotificationDrawer,
  NotificationDrawerBody,
  NotificationDrawerHeader,
  NotificationDrawerList,
  NotificationDrawerListItem,
  NotificationDrawerListItemBody,
  NotificationDrawerListItemHeader,
} from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client';
import { useInvalidate } from '../api/hooks';
import { dateTime } from '../api/format';
import { Empty } from '../components/common';
import { useRunAction } from '../components/runAction';

export interface UserNotification {
  id: string;
  kind: string;
  organization: string | null;
  created: string;
  metadata: Record<string, unknown>;
  dismissed: boolean;
}

export function useNotifications(enabled: boolean) {
  return useQuery({
    queryKey: ['notifications'],
    queryFn: async () => (await api.get<{ notifications: UserNotification[] }>('/user/notifications')).notifications.filter((n) => !n.dismissed),
    enabled,
    refetchInterval: 60_000,
  });
}

/** Human text for a notification kind (Quay's wording where it has one). */
export function notificationText(n: UserNotification): { title: string; variant: 'info' | 'warning' | 'danger' | 'success' } {
  const m = n.metadata ?? {};
  const ns = (m.namespace as string) ?? n.organization ?? '';
  const usage = m.usage_bytes_formatted && m.limit_bytes_formatted ? ` (${String(m.usage_bytes_formatted)} of ${String(m.limit_bytes_formatted)})` : '';
  switch (n.kind) {
    case 'quota_warning':
      return { title: `Quota warning: namespace ${ns} is close to its storage quota${usage}`, variant: 'warning' };
    case 'quota_error':
      return { title: `Quota has been exceeded on namespace ${ns}${usage}`, variant: 'danger' };
    case 'org_team_invite':
      return { title: `You have been invited to join team ${String(m.team ?? '')} in ${ns}`, variant: 'info' };
    case 'repo_push':
      return { title: `Repository ${ns}/${String(m.name ?? m.repository ?? '')} has been pushed`, variant: 'success' };
    case 'password_required':
      return { title: 'Please set a password for your account', variant: 'warning' };
    default:
      return { title: n.kind.replace(/_/g, ' '), variant: 'info' };
  }
}

/** A team invitation is answered where it is announced: joining changes the user's organizations. */
function InviteActions({ code, team }: { code: string; team: string }) {
  const run = useRunAction([['notifications'], ['user']]);
  return (
    <Flex style={{ marginTop: 8 }}>
      <Button size="sm" onClick={() => run(`Joined team ${team}`, () => api.put(`/teaminvite/${encodeURIComponent(code)}`))}>
        Accept invitation
      </Button>
      <Button size="sm" variant="secondary" onClick={() => run(`Declined the invitation to ${team}`, () => api.del(`/teaminvite/${encodeURIComponent(code)}`))}>
        Decline
      </Button>
    </Flex>
  );
}

export default function NotificationDrawerPanel({ onClose }: { onClose: () => void }) {
  const { data } = useNotifications(true);
  const invalidate = useInvalidate();
  const dismiss = async (id: string) => {
    await api.put(`/user/notifications/${encodeURIComponent(id)}`, { dismissed: true });
    await invalidate(['notifications']);
  };
  const items = data ?? [];
  return (
    <NotificationDrawer>
      <NotificationDrawerHeader count={items.length} onClose={onClose} title="Notifications" />
      <NotificationDrawerBody>
        {items.length === 0 ? (
          <Empty title="No notifications" />
        ) : (
          <NotificationDrawerList>
            {items.map((n) => {
              const t = notificationText(n);
              return (
                <NotificationDrawerListItem key={n.id} variant={t.variant}>
                  <NotificationDrawerListItemHeader variant={t.variant} title={t.title} headingLevel="h3">
                    <Button variant="link" onClick={() => dismiss(n.id)} aria-label={`Dismiss: ${t.title}`}>
                      Dismiss
                    </Button>
                  </NotificationDrawerListItemHeader>
                  <NotificationDrawerListItemBody timestamp={dateTime(n.created)}>
                    {n.kind === 'org_team_invite' && typeof n.metadata?.code === 'string' && <InviteActions code={n.metadata.code} team={String(n.metadata.team ?? '')} />}
                  </NotificationDrawerListItemBody>
                </NotificationDrawerListItem>
              );
            })}
          </NotificationDrawerList>
        )}
      </NotificationDrawerBody>
    </NotificationDrawer>
  );
}
