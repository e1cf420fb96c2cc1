/** Route table (the same paths as Quay's UI). Pages load lazily so the first screen stays small. */
import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes, useLocation, useParams } from 'react-router-dom';
import { useQueryClient } from '@tanstack/react-query';
import { Loading } from './components/common';
import { useUser } from './api/hooks';
import Shell from './shell/Shell';
import Signin from './pages/Signin';
import CreateAccount from './pages/CreateAccount';
import { prefetchRepositoryPage } from './pages/repository/queries';

const RepositoriesList = lazy(() => import('./pages/RepositoriesList'));
const RepositoryRouter = lazy(() => import('./pages/repository/RepositoryRouter'));
const OrganizationsList = lazy(() => import('./pages/OrganizationsList'));
const Organization = lazy(() => import('./pages/organization/Organization'));
const TeamPage = lazy(() => import('./pages/organization/TeamPage'));
const SuperuserUsageLogs = lazy(() => import('./pages/SuperuserUsageLogs'));
const Messages = lazy(() => import('./pages/superuser/Messages'));
const ServiceKeys = lazy(() => import('./pages/superuser/ServiceKeys'));
const BuildLogs = lazy(() => import('./pages/superuser/BuildLogs'));
const ChangeLog = lazy(() => import('./pages/superuser/ChangeLog'));
const NotFound = lazy(() => import('./pages/NotFound'));

/** Anonymous visitors may browse repositories; everything else asks them to sign in. */
function RequireUser({ children }: { children: React.ReactNode }) {
  const { data: user } = useUser();
  const location = useLocation();
  if (!user) return <Loading />;
  if (user.anonymous) return <Navigate to={`/signin?redirect=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return children;
}

/**
 * A repository's data is asked for as the route matches, in parallel with loading the page's code. Done while
 * rendering because the page below suspends (its effects would wait for its code); prefetching is idempotent
 * (a query in flight or fresh is not asked again).
 */
function RepositoryRoute() {
  const { organizationName = '', '*': tail = '' } = useParams();
  const { search } = useLocation();
  prefetchRepositoryPage(useQueryClient(), organizationName, tail, search);
  return <RepositoryRouter />;
}

function Home() {
  const { data: user } = useUser();
  if (!user) return <Loading />;
  return <Navigate to={user.anonymous ? '/signin' : '/organization'} replace />;
}

/**
 * Pages render while GET /api/v1/user/ is in flight, so a page's code and data load in parallel with it;
 * only the pages that need a signed-in user wait for the answer.
 */
export default function App() {
  return (
    <Routes>
      <Route path="/signin" element={<Signin />} />
      <Route path="/createaccount" element={<CreateAccount />} />
      <Route
        path="/*"
        element={
          <Shell>
            <Suspense fallback={<Loading />}>
              <Routes>
                <Route path="/" element={<Home />} />
                <Route
                  path="/organization"
                  element={
                    <RequireUser>
                      <OrganizationsList />
                    </RequireUser>
                  }
                />
                <Route
                  path="/organization/:organizationName"
                  element={
                    <RequireUser>
                      <Organization />
                    </RequireUser>
                  }
                />
                <Route
                  path="/organization/:organizationName/teams/:teamName"
                  element={
                    <RequireUser>
                      <TeamPage />
                    </RequireUser>
                  }
                />
                <Route
                  path="/user/:organizationName"
                  element={
                    <RequireUser>
                      <Organization />
                    </RequireUser>
                  }
                />
                <Route path="/repository" element={<RepositoriesList />} />
                <Route path="/repository/:organizationName/*" element={<RepositoryRoute />} />
                <Route
                  path="/usage-logs"
                  element={
                    <RequireUser>
                      <SuperuserUsageLogs />
                    </RequireUser>
                  }
                />
                <Route
                  path="/messages"
                  element={
                    <RequireUser>
                      <Messages />
                    </RequireUser>
                  }
                />
                <Route
                  path="/service-keys"
                  element={
                    <RequireUser>
                      <ServiceKeys />
                    </RequireUser>
                  }
                />
                <Route
                  path="/build-logs"
                  element={
                    <RequireUser>
                      <BuildLogs />
                    </RequireUser>
                  }
                />
                <Route
                  path="/change-log"
                  element={
                    <RequireUser>
                      <ChangeLog />
                    </RequireUser>
                  }
                />
                <Route path="*" element={<NotFound />} />
              </Routes>
            </Suspense>
          </Shell>
        }
      />
    </Routes>
  );
}
