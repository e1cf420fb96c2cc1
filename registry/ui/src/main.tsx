import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { BrowserRouter } from 'react-router-dom';
import '@patternfly/patternfly/patternfly-base.css';
import '@patternfly/patternfly/patternfly-addons.css';
import './app.css';
import App from './App';
import { AlertsProvider } from './components/alerts';
import { applyTheme, storedTheme } from './shell/theme';

applyTheme(storedTheme());
// A web font is fetched when text first uses it; the tables' digests (mono) and the titles would otherwise get
// theirs after the rows are on screen and lay the page out again. Fetched now, they come with the page's data.
for (const family of ['Red Hat Mono', 'Red Hat Display']) document.fonts.load(`1em "${family}"`).catch(() => undefined);

const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <AlertsProvider>
          <App />
        </AlertsProvider>
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
);
