/**
 * The one RpcClient of this window, handed down by context. Components never call
 * `connect()` themselves: the gate below owns the connection and its loss.
 */
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Typography from '@mui/material/Typography';
import CloudOffIcon from '@mui/icons-material/CloudOff';
import type { RpcClient } from '../../../core/api/rpc';
import { assertNever } from '../../../core/api/errors';
import { connect } from '../api/transport';
import { DetailsExpander, toProblem, type Problem } from '../components/ErrorAlert';

interface Connection {
  readonly client: RpcClient;
  /** Set once the transport closed; every later call fails, so the UI says so. */
  readonly lost: string | null;
}

const ClientContext = createContext<Connection | null>(null);

export function useConnection(): Connection {
  const c = useContext(ClientContext);
  if (!c) throw new Error('useConnection outside ConnectionGate');
  return c;
}

export function useClient(): RpcClient {
  return useConnection().client;
}

type Phase =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'failed'; readonly problem: Problem }
  | { readonly kind: 'ready'; readonly client: RpcClient };

/** `onConnected`: called with each new connection before the children render with it (see early.ts). */
export function ConnectionGate({ children, onConnected }: { readonly children: ReactNode; readonly onConnected?: (client: RpcClient) => void }) {
  const [phase, setPhase] = useState<Phase>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);
  const [lost, setLost] = useState<string | null>(null);
  const onConnectedRef = useRef(onConnected);
  onConnectedRef.current = onConnected;

  useEffect(() => {
    let cancelled = false;
    let client: RpcClient | null = null;
    let offClose: (() => void) | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const open = (retry: number) => {
      connect().then(
        (c) => {
          if (cancelled) {
            c.close();
            return;
          }
          client = c;
          offClose?.();
          offClose = c.onClose((reason) => {
            // The core restarted (or web mode's server did): keep the window and reconnect by itself.
            setLost(reason?.message ?? 'the connection was closed');
            if (!cancelled) timer = setTimeout(() => open(0), 1000);
          });
          onConnectedRef.current?.(c);
          setLost(null);
          setPhase({ kind: 'ready', client: c });
        },
        (err: unknown) => {
          if (cancelled) return;
          if (client) {
            // Lost after having worked: keep trying quietly, backing off to 10 s.
            timer = setTimeout(() => open(retry + 1), Math.min(10_000, 1000 * 2 ** retry));
          } else {
            setPhase({ kind: 'failed', problem: toProblem(err) });
          }
        },
      );
    };
    setPhase({ kind: 'connecting' });
    open(0);
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
      offClose?.();
      client?.close();
    };
  }, [attempt]);

  switch (phase.kind) {
    case 'connecting':
      return (
        <Centered>
          <CircularProgress size={28} />
          <Typography variant="body2" color="text.secondary" sx={{ mt: 2 }}>
            Connecting to the Nestbox core…
          </Typography>
        </Centered>
      );
    case 'failed':
      return (
        <Centered>
          <CloudOffIcon color="error" sx={{ fontSize: 44 }} />
          <Typography variant="h6" sx={{ mt: 1 }}>
            Cannot reach the Nestbox core
          </Typography>
          <Typography variant="body2" color="text.secondary" sx={{ mt: 0.5, mb: 2, maxWidth: 460, textAlign: 'center' }}>
            {phase.problem.message}. If you use web mode, check that <code>nestbox serve</code> is still running and open the
            address it printed.
          </Typography>
          <Button variant="contained" onClick={() => setAttempt((a) => a + 1)}>
            Try again
          </Button>
          <DetailsExpander {...(phase.problem.detail ? { detail: phase.problem.detail } : {})} />
        </Centered>
      );
    case 'ready':
      return <ClientContext.Provider value={{ client: phase.client, lost }}>{children}</ClientContext.Provider>;
    default:
      return assertNever(phase, 'connection phase');
  }
}

function Centered({ children }: { readonly children: ReactNode }) {
  return (
    <Box sx={{ height: '100%', display: 'flex', flexDirection: 'column', alignItems: 'center', justifyContent: 'center', p: 4 }}>
      {children}
    </Box>
  );
}
