/** The signed-in frame: masthead (bell, appearance, user menu), sidebar navigation, notification drawer. */
import { lazy, Suspense, useEffect, useState, type ReactNode } from 'react';
import { Link, useLocation, useNavigate } from 'react-router-dom';
import {
  Button,
  Dropdown,
  DropdownGroup,
  DropdownItem,
  DropdownList,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadLogo,
  MastheadMain,
  MastheadToggle,
  MenuToggle,
  Nav,
  NavExpandable,
  NavItem,
  NavList,
  NotificationBadge,
  Page,
  PageSidebar,
  PageSidebarBody,
  PageToggleButton,
  SkipToContent,
  Toolbar,
  ToolbarContent,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import { BarsIcon } from '@patternfly/react-icons';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, resetCsrf } from '../api/client';
import { useRegistryInfo, useUser } from '../api/hooks';
import Avatar from '../components/Avatar';
import { applyTheme, storedTheme, type Theme } from './theme';
import NotificationDrawerPanel, { useNotifications } from './NotificationDrawer';
import FreshLoginModal from './FreshLoginModal';
import type { GlobalMessage } from './GlobalMessages';

// Markdown rendering loads only when there is a message to show.
const GlobalMessages = lazy(() => import('./GlobalMessages'));

function UserMenu() {
  const { data: user } = useUser();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  const [theme, setTheme] = useState<Theme>(storedTheme());
  if (!user || user.anonymous) {
    return (
      <Button variant="primary" onClick={() => navigate('/signin')}>
        Sign in
      </Button>
    );
  }
  const pick = (t: Theme) => {
    setTheme(t);
    applyTheme(t);
  };
  const logout = async () => {
    await api.post('/signout');
    resetCsrf();
    qc.clear();
    window.location.assign('/signin');
  };
  return (
    <Dropdown
      isOpen={open}
      onOpenChange={setOpen}
      popperProps={{ position: 'right' }}
      toggle={(ref) => (
        <MenuToggle ref={ref} variant="plainText" onClick={() => setOpen(!open)} isExpanded={open} data-testid="user-menu-toggle">
          <Avatar avatar={user.avatar} />
          {user.username}
        </MenuToggle>
      )}
    >
      <DropdownList>
        <DropdownItem onClick={() => navigate(`/organization/${user.username}?tab=Settings`)}>Account Settings</DropdownItem>
      </DropdownList>
      <DropdownGroup label="Appearance">
        <DropdownList>
          {(['light', 'dark', 'system'] as Theme[]).map((t) => (
            <DropdownItem key={t} onClick={() => pick(t)} isSelected={theme === t} description={theme === t ? 'selected' : undefined}>
              {t === 'light' ? 'Light' : t === 'dark' ? 'Dark' : 'System default'}
            </DropdownItem>
          ))}
        </DropdownList>
      </DropdownGroup>
      <DropdownList>
        <DropdownItem onClick={logout} data-testid="logout">
          Logout
        </DropdownItem>
      </DropdownList>
    </Dropdown>
  );
}

function Header({ onBell, unread }: { onBell: () => void; unread: number }) {
  const { title } = useRegistryInfo();
  const { data: user } = useUser();
  return (
    <Masthead>
      <MastheadMain>
        <MastheadToggle>
          <PageToggleButton isHamburgerButton aria-label="Global navigation">
            <BarsIcon />
          </PageToggleButton>
        </MastheadToggle>
        <MastheadBrand>
          <MastheadLogo component={(p: object) => <Link {...p} to="/" />}>
            <span className="quay-brand">
              <img src="/favicon.svg" alt="" width={28} height={28} />
              {title}
            </span>
          </MastheadLogo>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Toolbar isFullHeight>
          <ToolbarContent>
            <ToolbarGroup align={{ default: 'alignEnd' }} gap={{ default: 'gapMd' }}>
              {user && !user.anonymous && (
                <ToolbarItem>
                  <NotificationBadge
                    variant={unread ? 'unread' : 'read'}
                    count={unread}
                    onClick={onBell}
                    aria-label={`${unread} unread notifications`}
                    data-testid="notification-bell"
                  />
                </ToolbarItem>
              )}
              <ToolbarItem>
                <UserMenu />
              </ToolbarItem>
            </ToolbarGroup>
          </ToolbarContent>
        </Toolbar>
      </MastheadContent>
    </Masthead>
  );
}

const SUPERUSER_PAGES = [
  ['/service-keys', 'Service Keys'],
  ['/change-log', 'Change Log'],
  ['/usage-logs', 'Usage Logs'],
  ['/messages', 'Messages'],
  ['/build-logs', 'Build Logs'],
] as const;

function Sidebar() {
  const { data: user } = useUser();
  const { features } = useRegistryInfo();
  const { pathname } = useLocation();
  // Build Logs only where builds exist, as in Quay.
  const superuserPages = SUPERUSER_PAGES.filter(([to]) => to !== '/build-logs' || !!features.BUILD_SUPPORT);
  const item = (to: string, label: string, active = pathname.startsWith(to)) => (
    <NavItem key={to} isActive={active}>
      <Link to={to}>{label}</Link>
    </NavItem>
  );
  return (
    <PageSidebar>
      <PageSidebarBody>
        <Nav aria-label="Main navigation">
          <NavList>
            {user && !user.anonymous && item('/organization', 'Organizations', pathname.startsWith('/organization') || pathname.startsWith('/user'))}
            {item('/repository', 'Repositories')}
            {user?.super_user && (
              <NavExpandable title="Superuser" isExpanded isActive={superuserPages.some(([to]) => pathname.startsWith(to))}>
                {superuserPages.map(([to, label]) => item(to, label))}
              </NavExpandable>
            )}
          </NavList>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );
}

export default function Shell({ children }: { children: ReactNode }) {
  const [drawerOpen, setDrawerOpen] = useState(false);
  const { data: user } = useUser();
  const notifications = useNotifications(!!user && !user.anonymous);
  const { title } = useRegistryInfo();
  const messages = useQuery({ queryKey: ['messages'], queryFn: () => api.get<{ messages: GlobalMessage[] }>('/messages'), staleTime: 60_000 });
  useEffect(() => {
    document.title = title;
  }, [title]);
  return (
    <Page
      masthead={<Header onBell={() => setDrawerOpen(!drawerOpen)} unread={notifications.data?.length ?? 0} />}
      sidebar={<Sidebar />}
      isManagedSidebar
      skipToContent={<SkipToContent href="#main-content">Skip to content</SkipToContent>}
      mainContainerId="main-content"
      notificationDrawer={<NotificationDrawerPanel onClose={() => setDrawerOpen(false)} />}
      isNotificationDrawerExpanded={drawerOpen}
    >
      {!!messages.data?.messages.length && (
        <Suspense fallback={null}>
          <GlobalMessages messages={messages.data.messages} />
        </Suspense>
      )}
      {children}
      <FreshLoginModal />
    </Page>
  );
}
