/**
 * The Port Forwarding table's frame: the columns VirtualBox users know, their header, and the
 * "No rules yet" line when there is nothing to show. The rows are the dialog's (RuleRow).
 */
import type { ReactNode } from 'react';
import Box from '@mui/material/Box';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import type { SxProps, Theme } from '@mui/material/styles';

export function RulesTable({ empty, describedBy, children }: { readonly empty: boolean; readonly describedBy: string; readonly children: ReactNode }) {
  return (
    <TableContainer
      sx={{
        flex: 1,
        minHeight: 0,
        border: 1,
        borderColor: 'divider',
        borderRadius: 1.5,
        bgcolor: 'background.paper',
      }}
    >
      <Table size="small" stickyHeader aria-label="Port forwarding rules" aria-describedby={describedBy} sx={{ tableLayout: 'fixed', minWidth: 760 }}>
        <colgroup>
          <col />
          <col style={{ width: 92 }} />
          <col style={{ width: 132 }} />
          <col style={{ width: 96 }} />
          <col style={{ width: 132 }} />
          <col style={{ width: 96 }} />
          <col style={{ width: 104 }} />
        </colgroup>
        <TableHead>
          <TableRow sx={headRowSx}>
            <TableCell>Name</TableCell>
            <TableCell>Protocol</TableCell>
            <TableCell>Host IP</TableCell>
            <TableCell>Host Port</TableCell>
            <TableCell>Guest IP</TableCell>
            <TableCell>Guest Port</TableCell>
            <TableCell>
              <Box component="span" sx={visuallyHidden}>
                Actions
              </Box>
            </TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {empty && (
            <TableRow>
              <TableCell colSpan={7} sx={{ border: 0, py: 5, textAlign: 'center' }}>
                <Typography variant="body2" sx={{ fontWeight: 500 }}>
                  No rules yet
                </Typography>
                <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 0.5 }}>
                  Add a rule to reach a service in the guest — a web server on port 80, SSH on port 22 — from this computer.
                </Typography>
              </TableCell>
            </TableRow>
          )}
          {children}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

const visuallyHidden = {
  position: 'absolute',
  width: 1,
  height: 1,
  overflow: 'hidden',
  clip: 'rect(0 0 0 0)',
  whiteSpace: 'nowrap',
} as const;

const headRowSx: SxProps<Theme> = {
  '& th': {
    bgcolor: 'chrome.sidebar',
    color: 'text.secondary',
    fontSize: '0.72rem',
    fontWeight: 600,
    letterSpacing: '0.02em',
    py: 0.75,
    px: 1.25,
    whiteSpace: 'nowrap',
  },
};
