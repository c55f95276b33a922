/**
 * The right pane of the Manager with VirtualBox 7's tools for the selected machine: the
 * Details, and the Snapshots. The chosen tool stays chosen across machines and reloads.
 */
import { Suspense, lazy, useEffect, useState, type ReactNode } from 'react';
import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import Tab from '@mui/material/Tab';
import Tabs from '@mui/material/Tabs';
import { alpha } from '@mui/material/styles';
import InfoOutlinedIcon from '@mui/icons-material/InfoOutlined';
import PhotoCameraOutlinedIcon from '@mui/icons-material/PhotoCameraOutlined';
import ShowChartIcon from '@mui/icons-material/ShowChart';
import ArticleOutlinedIcon from '@mui/icons-material/ArticleOutlined';
import { VmLogView } from '../monitor/VmLogView';
import type { VmInfo } from '../../../core/api/contract';
import { useConnection } from '../hooks/client';
import type { BusyKind } from '../hooks/operations';
import { SnapshotsView } from './SnapshotsView';
import { useSnapshots } from './useSnapshots';

type Tool = 'details' | 'snapshots' | 'performance' | 'log';
const TOOLS: readonly Tool[] = ['details', 'snapshots', 'performance', 'log'];

const TOOL_KEY = 'nestbox.machineTool';

/** Loaded when first shown: its charts (MUI X Charts, d3) are a third of the Manager's code, and the launch does not need them. */
const PerformanceView = lazy(() => import('../monitor/PerformanceView').then((m) => ({ default: m.PerformanceView })));

function readTool(): Tool {
  try {
    const v = window.localStorage.getItem(TOOL_KEY);
    return (TOOLS as readonly (string | null)[]).includes(v) ? (v as Tool) : 'details';
  } catch {
    return 'details';
  }
}

export interface MachinePaneProps {
  readonly vm: VmInfo;
  readonly busy: BusyKind | undefined;
  /** The Details tool (the Manager's VmDetails). */
  readonly details: ReactNode;
}

export function MachinePane({ vm, busy, details }: MachinePaneProps) {
  const [tool, setTool] = useState<Tool>(readTool);
  const snapshots = useSnapshots(vm.uuid);
  const { lost } = useConnection();
  const count = snapshots.list?.snapshots.length;

  useEffect(() => {
    try {
      window.localStorage.setItem(TOOL_KEY, tool);
    } catch {
      // without storage the Details come first after a reload
    }
  }, [tool]);

  return (
    <Box sx={{ flex: 1, minWidth: 0, display: 'flex', flexDirection: 'column' }}>
      <Box sx={{ flex: 'none', px: 2, borderBottom: 1, borderColor: 'divider' }}>
        <Tabs
          value={tool}
          onChange={(_, v: Tool) => setTool(v)}
          aria-label={`Tools for ${vm.name}`}
          sx={{
            minHeight: 40,
            '& .MuiTab-root': { minHeight: 40, px: 1.5, gap: 0.75, color: 'text.secondary' },
            '& .MuiTab-root.Mui-selected': { color: 'text.primary' },
            '& .MuiTab-root svg': { fontSize: 18, mb: '0 !important', mr: '0 !important' },
            '& .MuiTabs-indicator': { height: 2.5, borderRadius: 2 },
          }}
        >
          <Tab value="details" id="machine-tab-details" aria-controls="machine-tool-panel" icon={<InfoOutlinedIcon />} iconPosition="start" label="Details" />
          <Tab
            value="snapshots"
            id="machine-tab-snapshots"
            aria-controls="machine-tool-panel"
            icon={<PhotoCameraOutlinedIcon />}
            iconPosition="start"
            label={
              <Box component="span" sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.75 }}>
                Snapshots
                {count !== undefined && count > 0 && (
                  <Box
                    component="span"
                    aria-hidden
                    sx={(t) => ({
                      minWidth: 18,
                      height: 18,
                      px: 0.6,
                      borderRadius: 9,
                      display: 'inline-grid',
                      placeItems: 'center',
                      fontSize: '0.68rem',
                      fontWeight: 700,
                      color: tool === 'snapshots' ? 'primary.main' : 'text.secondary',
                      bgcolor: alpha(tool === 'snapshots' ? t.palette.primary.main : t.palette.text.primary, 0.1),
                    })}
                  >
                    {count}
                  </Box>
                )}
              </Box>
            }
          />
          <Tab value="performance" id="machine-tab-performance" aria-controls="machine-tool-panel" icon={<ShowChartIcon />} iconPosition="start" label="Performance" />
          <Tab value="log" id="machine-tab-log" aria-controls="machine-tool-panel" icon={<ArticleOutlinedIcon />} iconPosition="start" label="Log" />
        </Tabs>
      </Box>
      <Box
        role="tabpanel"
        id="machine-tool-panel"
        aria-labelledby={`machine-tab-${tool}`}
        sx={{ flex: 1, minHeight: 0, display: 'flex' }}
      >
        {tool === 'details' ? (
          details
        ) : tool === 'performance' ? (
          <Suspense
            fallback={
              <Box sx={{ flex: 1, display: 'grid', placeItems: 'center' }}>
                <CircularProgress size={22} aria-label="Loading the performance charts" />
              </Box>
            }
          >
            <PerformanceView key={vm.uuid} vm={vm} />
          </Suspense>
        ) : tool === 'log' ? (
          <VmLogView key={vm.uuid} vm={vm} />
        ) : (
          <SnapshotsView key={vm.uuid} vm={vm} busy={busy} snapshots={snapshots} offline={lost !== null} />
        )}
      </Box>
    </Box>
  );
}
