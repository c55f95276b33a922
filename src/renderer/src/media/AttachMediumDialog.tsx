/** Attach an image to a VM: a disk to a powered-off one, an ISO to any drive. */
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import MenuItem from '@mui/material/MenuItem';
import TextField from '@mui/material/TextField';
import type { MediumInfo, VmSummary } from '../../../core/api/contract';
import { MediumSubDialog } from './MediumSubDialog';

export function AttachMediumDialog({ medium, vms, onClose, onAttach }: {
  readonly medium: MediumInfo;
  readonly vms: readonly VmSummary[];
  readonly onClose: () => void;
  readonly onAttach: (vm: VmSummary) => void;
}) {
  // Disks go to powered-off VMs only; an ISO can be inserted into a running VM's drive too.
  const targets = vms.filter((v) => (medium.kind === 'iso' ? true : v.state === 'poweredOff') && !medium.usedBy.some((u) => u.uuid === v.uuid && u.current));
  const [uuid, setUuid] = useState(targets[0]?.uuid ?? '');
  const vm = targets.find((v) => v.uuid === uuid);
  return (
    <MediumSubDialog titleId="attach-medium-title" title={`Attach ${medium.name}`} submitLabel="Attach" onClose={onClose} disabled={!vm} onSubmit={() => vm && onAttach(vm)}>
      {targets.length === 0 ? (
        <Alert severity="info">{medium.kind === 'iso' ? 'There is no other virtual machine.' : 'A disk can only be attached to a powered-off virtual machine, and none is.'}</Alert>
      ) : (
        <TextField
          select
          label="Virtual machine"
          value={uuid}
          onChange={(e) => setUuid(e.target.value)}
          helperText={medium.kind === 'iso' ? 'The ISO goes into its CD/DVD drive (replacing what is there).' : 'Added as another disk; Nestbox inspects the image first.'}
        >
          {targets.map((v) => (
            <MenuItem key={v.uuid} value={v.uuid}>
              {v.name}
            </MenuItem>
          ))}
        </TextField>
      )}
    </MediumSubDialog>
  );
}
