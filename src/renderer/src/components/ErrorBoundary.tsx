import { Component, type ErrorInfo, type ReactNode } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Typography from '@mui/material/Typography';
import ErrorOutlineIcon from '@mui/icons-material/ErrorOutline';
import { DetailsExpander } from './ErrorAlert';

interface State {
  readonly error: Error | null;
}

/**
 * The last line of defence: a rendering bug shows a message and a way out instead of a
 * blank window. React still needs a class for this.
 */
export class ErrorBoundary extends Component<{ readonly children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error('Nestbox UI error', error, info.componentStack);
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <Box role="alert" sx={{ height: '100%', display: 'grid', placeItems: 'center', p: 4, bgcolor: 'background.default' }}>
        <Box sx={{ maxWidth: 520, textAlign: 'center' }}>
          <ErrorOutlineIcon color="error" sx={{ fontSize: 48, mb: 1 }} />
          <Typography variant="h6" gutterBottom>
            Something went wrong in the Nestbox window
          </Typography>
          <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
            Your virtual machines are not affected: they keep running in the background. Reload the window to continue.
          </Typography>
          <Button variant="contained" onClick={() => window.location.reload()}>
            Reload
          </Button>
          <Box sx={{ textAlign: 'left', mt: 2 }}>
            <DetailsExpander detail={`${error.message}\n\n${error.stack ?? ''}`} />
          </Box>
        </Box>
      </Box>
    );
  }
}
