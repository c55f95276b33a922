import { Suspense, lazy, useMemo } from 'react';
import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import CssBaseline from '@mui/material/CssBaseline';
import useMediaQuery from '@mui/material/useMediaQuery';
import { ThemeProvider } from '@mui/material/styles';
import { ErrorBoundary } from './components/ErrorBoundary';
import { useRoute } from './console/route';
import { NotificationsProvider } from './components/Notifications';
import { ConnectionGate } from './hooks/client';
import { askEarly } from './hooks/early';
import { Manager } from './Manager';
import { createAppTheme } from './theme';

// The console (noVNC, xterm.js) loads on demand: noVNC awaits a codec probe at the top level
// of its modules, which would hold back the whole window if it were in the main bundle.
const ConsoleWindow = lazy(() => import('./console/ConsoleWindow').then((m) => ({ default: m.ConsoleWindow })));

/**
 * Theme (following the system's light/dark), error boundary, notifications, connection, and
 * the route: the Manager, or one VM's console alone (`#/console/<uuid>`).
 */
export function App() {
  const route = useRoute();
  const dark = useMediaQuery('(prefers-color-scheme: dark)', { noSsr: true });
  const theme = useMemo(() => createAppTheme(dark ? 'dark' : 'light'), [dark]);
  return (
    <ThemeProvider theme={theme}>
      <CssBaseline enableColorScheme />
      <ErrorBoundary>
        <NotificationsProvider>
          <ConnectionGate onConnected={route.kind === 'console' ? undefined : askEarly}>
            {route.kind === 'console' ? (
              <Suspense fallback={<Loading />}>
                <ConsoleWindow key={route.ref} vmRef={route.ref} />
              </Suspense>
            ) : (
              <Manager />
            )}
          </ConnectionGate>
        </NotificationsProvider>
      </ErrorBoundary>
    </ThemeProvider>
  );
}

function Loading() {
  return (
    <Box sx={{ height: '100%', display: 'grid', placeItems: 'center' }}>
      <CircularProgress size={26} aria-label="Loading the console" />
    </Box>
  );
}
