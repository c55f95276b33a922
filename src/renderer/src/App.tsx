import { useMemo } from 'react';
import CssBaseline from '@mui/material/CssBaseline';
import useMediaQuery from '@mui/material/useMediaQuery';
import { ThemeProvider } from '@mui/material/styles';
import { ErrorBoundary } from './components/ErrorBoundary';
import { NotificationsProvider } from './components/Notifications';
import { ConnectionGate } from './hooks/client';
import { Manager } from './Manager';
import { createAppTheme } from './theme';

/** Theme (following the system's light/dark), error boundary, notifications, connection. */
export function App() {
  const dark = useMediaQuery('(prefers-color-scheme: dark)', { noSsr: true });
  const theme = useMemo(() => createAppTheme(dark ? 'dark' : 'light'), [dark]);
  return (
    <ThemeProvider theme={theme}>
      <CssBaseline enableColorScheme />
      <ErrorBoundary>
        <NotificationsProvider>
          <ConnectionGate>
            <Manager />
          </ConnectionGate>
        </NotificationsProvider>
      </ErrorBoundary>
    </ThemeProvider>
  );
}
