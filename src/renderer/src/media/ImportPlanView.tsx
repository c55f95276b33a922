/**
 * What an import will create, before anything is copied: the source's hardware as Nestbox
 * will set it up (the same plan `nestbox import --dry-run` prints, from `vms.importPlan`), and
 * each thing of the source the new VM will not have, by name.
 */
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import type { ReactNode } from 'react';
import type { ImportPlan } from '../../../core/api/contract';
import { bootLabel, busLabel, firmwareLabel, machineLabel, nicModeLabel, nicModelLabel } from '../model/labels';

const SOURCES: Readonly<Record<ImportPlan['source'], string>> = {
  ova: 'an OVA appliance',
  ovf: 'an OVF appliance',
  libvirt: 'a libvirt domain',
  vbox: 'a VirtualBox machine',
  utm: 'a UTM machine',
  disk: 'a disk image',
};

/** A label from the model's wording, or the plan's own word where it names something newer. */
function label<T extends string>(fn: (v: T) => string, v: string): string {
  try {
    return fn(v as T);
  } catch {
    return v;
  }
}

function baseName(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

export function ImportPlanView({ plan }: { readonly plan: ImportPlan }) {
  const rows: [string, ReactNode][] = [
    ['From', SOURCES[plan.source] ?? plan.source],
    ['Firmware', firmwareLabel(plan.firmware)],
    ['Chipset', label(machineLabel, plan.machine)],
    ['Processors', plan.cpus],
    ...plan.disks.map((d, i): [string, ReactNode] => [
      `Disk ${i + 1}`,
      <span key={d.source} title={d.source}>
        {baseName(d.source)} ({d.format}, {label(busLabel, d.bus)}
        {d.flattened ? `, a snapshot chain of ${d.flattened} images flattened into one` : ''}
        {d.inPlace ? ', used where it is' : ', copied as QCOW2'})
      </span>,
    ]),
    ...(plan.cdroms > 0 ? [['Optical drives', `${plan.cdroms} (empty)`] as [string, ReactNode]] : []),
    ...plan.nics.map((n, i): [string, ReactNode] => [
      `Adapter ${i + 1}`,
      `${label(nicModelLabel, n.model)}, ${label(nicModeLabel, n.mode)}${n.bridge ? ` on ${n.bridge}` : ''}, MAC ${n.mac === '(new)' ? 'new' : n.mac}${n.forwards ? `, ${n.forwards} port forward${n.forwards > 1 ? 's' : ''}` : ''}`,
    ]),
    ['Boot order', plan.bootOrder.map((b) => label(bootLabel, b)).join(', ') || 'Default'],
  ];
  return (
    <Box sx={{ display: 'grid', gap: 1 }}>
      <Typography variant="subtitle2" component="h3">
        What will be created
      </Typography>
      <Box sx={{ border: 1, borderColor: 'divider', borderRadius: 1.5, overflow: 'hidden' }}>
        <Table size="small" aria-label="What will be created">
          <TableBody>
            {rows.map(([k, v]) => (
              <TableRow key={k} sx={{ '&:last-child td, &:last-child th': { borderBottom: 0 } }}>
                <TableCell component="th" scope="row" sx={{ width: 130, color: 'text.secondary', fontWeight: 500 }}>
                  {k}
                </TableCell>
                <TableCell sx={{ overflowWrap: 'anywhere' }}>{v}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </Box>
      {plan.notCarried.length > 0 && (
        <Alert severity="warning" role="note" aria-label="Not carried over">
          Not carried over:
          <Box component="ul" sx={{ m: 0, pl: 2.5 }}>
            {plan.notCarried.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </Box>
        </Alert>
      )}
    </Box>
  );
}
