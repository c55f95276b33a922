/**
 * The console alone, for `#/console/<uuid>`: the desktop's detached console window and a
 * browser tab in web mode. A title bar with the VM's name and state sits above the console;
 * the page title follows the VM so the window list and the tab say which VM this is.
 */
import { useEffect } from 'react';
import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import Typography from '@mui/material/Typography';
import { ConnectionLostBanner } from '../components/Chrome';
import { NestboxMark } from '../components/NestboxMark';
import { StateChip } from '../components/StateIndicator';
import { useConnection } from '../hooks/client';
import { useVmInfo } from '../hooks/data';
import { useOperations } from '../hooks/operations';
import type { LifecycleAction } from '../model/vmState';
import { ConsoleView } from './ConsoleView';

export function ConsoleWindow({ vmRef }: { readonly vmRef: string }) {
  const { lost } = useConnection();
  const { info: vm, error, accept } = useVmInfo(vmRef);
  const ops = useOperations(accept);

  useEffect(() => {
    const previous = document.title;
    document.title = vm ? `${vm.name} — Nestbox` : 'Console — Nestbox';
    return () => {
      document.title = previous;
    };
  }, [vm]);

  const run = (a: LifecycleAction) => {
    if (vm) void ops.run(vm, a);
  };

  return (
    <Box sx={{ height: '100%', minWidth: 640, display: 'flex', flexDirection: 'column', bgcolor: 'background.default' }}>
      <Box
        component="header"
        sx={{
          display: 'flex',
          alignItems: 'center',
          gap: 1.25,
          px: 1.5,
          height: 40,
          flex: 'none',
          borderBottom: 1,
          borderColor: 'divider',
          bgcolor: 'chrome.sidebar',
          userSelect: 'none',
        }}
      >
        <NestboxMark size={20} />
        <Typography variant="subtitle1" component="h1" noWrap sx={{ fontSize: '0.9rem', minWidth: 0 }}>
          {vm?.name ?? (error ? 'Console' : 'Loading…')}
        </Typography>
        {vm && <StateChip state={vm.state} />}
        <Box sx={{ flex: 1 }} />
        <Typography variant="caption" color="text.secondary" noWrap>
          Nestbox console
        </Typography>
      </Box>
      {lost !== null && <ConnectionLostBanner reason={lost} />}
      {vm ? (
        <ConsoleView vm={vm} busy={ops.busy.get(vm.uuid)} onAction={run} mode="standalone" />
      ) : (
        <Box sx={{ flex: 1, display: 'grid', placeItems: 'center', p: 4 }}>
          {error ? (
            <Typography variant="body2" color="text.secondary" sx={{ maxWidth: 440, textAlign: 'center' }}>
              Cannot show the console of this VM: {error}
            </Typography>
          ) : (
            <CircularProgress size={24} aria-label="Loading the VM" />
          )}
        </Box>
      )}
    </Box>
  );
}
