/** The New VM wizard's last step: every choice in one table, for this computer or a libvirt host. */
import type { ReactNode } from 'react';
import Box from '@mui/material/Box';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableRow from '@mui/material/TableRow';
import type { OsType } from '../../../core/api/contract';
import { firmwareLabel, nicModelLabel } from '../model/labels';
import { baseName, formatMiB } from '../util/format';
import { diskSizeValue, type Draft } from './draft';
import { hostSummary, type HostPlacement } from './hostPlacement';

export function WizardSummary({ draft, osType, placement }: { readonly draft: Draft; readonly osType: OsType | undefined; readonly placement: HostPlacement }) {
  const onHost = placement.host !== null ? hostSummary(placement, draft) : null;
  return (
    <Box sx={{ border: 1, borderColor: 'divider', borderRadius: 1.5, overflow: 'hidden' }}>
      <Table size="small" aria-label="Summary">
        <TableBody>
          <SummaryRow label="Name">{draft.name}</SummaryRow>
          {placement.host !== null && <SummaryRow label="Created on">Host {placement.host}</SummaryRow>}
          <SummaryRow label="Type">{osType?.label ?? draft.osType}</SummaryRow>
          {!onHost && draft.group.trim() && <SummaryRow label="Group">{draft.group.trim()}</SummaryRow>}
          <SummaryRow label="ISO image">{onHost ? onHost.iso : draft.iso ? <span title={draft.iso}>{baseName(draft.iso)}</span> : 'None'}</SummaryRow>
          <SummaryRow label="Memory">
            {formatMiB(draft.memoryMiB)} ({draft.memoryMiB.toLocaleString()} MiB)
          </SummaryRow>
          <SummaryRow label="CPUs">{draft.cpus}</SummaryRow>
          <SummaryRow label="Firmware">
            {firmwareLabel(draft.firmware)}
            {!onHost && draft.firmware === 'uefi' && draft.secureBoot ? ', Secure Boot' : ''}
            {!onHost && draft.tpm ? ', TPM 2.0' : ''}
          </SummaryRow>
          <SummaryRow label="Hard disk">
            {onHost
              ? onHost.disk
              : draft.diskMode === 'new'
                ? `New ${formatMiB(Math.round(diskSizeValue(draft.diskSizeGiB) * 1024))} QCOW2 disk (grows as needed)`
                : draft.diskMode === 'existing'
                  ? `Existing: ${draft.diskPath}`
                  : 'None'}
          </SummaryRow>
          {!onHost && draft.unattended.enabled && <SummaryRow label="Install">Automatically, as user {draft.unattended.user}</SummaryRow>}
          <SummaryRow label="Network">
            {onHost ? onHost.network : 'NAT'}
            {osType && (!onHost || placement.netMode !== 'none') ? ` · ${nicModelLabel(osType.preset.nicModel)}` : ''}
          </SummaryRow>
          {!onHost && <SummaryRow label="Clipboard">{draft.clipboard ? 'Shared with the console' : 'Off'}</SummaryRow>}
          {!onHost && (
            <SummaryRow label="Shared folder">
              {draft.share.trim() ? (
                <span title={draft.share.trim()}>
                  {draft.share.trim()}
                  {draft.shareReadOnly ? ' (read-only)' : ''}
                </span>
              ) : (
                'None'
              )}
            </SummaryRow>
          )}
        </TableBody>
      </Table>
    </Box>
  );
}

function SummaryRow({ label, children }: { readonly label: string; readonly children: ReactNode }) {
  return (
    <TableRow sx={{ '&:last-child td, &:last-child th': { borderBottom: 0 } }}>
      <TableCell component="th" scope="row" sx={{ width: 150, color: 'text.secondary', fontWeight: 500 }}>
        {label}
      </TableCell>
      <TableCell sx={{ overflowWrap: 'anywhere' }}>{children}</TableCell>
    </TableRow>
  );
}
