/**
 * Converts the first disk that cannot hold snapshots into qcow2 (`vms.convertDisk`): the VM
 * uses the copy only once it is made and checked; the original file stays for the user.
 */
import Alert from '@mui/material/Alert';
import type { VmInfo } from '../../../core/api/contract';
import { useNotify } from '../components/Notifications';
import { OperationButton, OperationDialog, OperationProgress, useOperation } from '../components/OperationDialog';
import { useVmActions } from '../actions/useVmActions';
import { Para } from './dialogParts';
import { useCopyProgress } from './CloneDialog';

export interface ConvertDiskDialogProps {
  readonly open: boolean;
  readonly vm: VmInfo;
  readonly onClose: () => void;
  readonly onConverted: () => void;
}

export function ConvertDiskDialog({ open, vm, onClose, onConverted }: ConvertDiskDialogProps) {
  const vms = useVmActions();
  const notify = useNotify();
  const op = useOperation();
  const pct = useCopyProgress(vm.uuid, 'convertDisk', op.running);
  const disk = vm.config.disks.find((d) => !d.readOnly && d.format !== 'qcow2');
  const off = vm.allowed.includes('modifyHardware');
  const go = () => {
    if (!disk || !off) return;
    op.run(() => vms.convertDisk({ ref: vm.uuid, disk: disk.id }), {
      failure: `Could not convert disk '${disk.id}'`,
      onSuccess: (res) => {
        notify.success(`Converted disk '${disk.id}' of '${vm.name}' to QCOW2.`);
        for (const w of res.warnings) notify.warning(w, `'${vm.name}'`);
      },
      onDone: () => onConverted(),
    });
  };
  return (
    <OperationDialog
      open={open}
      running={op.running}
      onClose={onClose}
      titleId="convert-disk-title"
      title={`Convert the disk of ${vm.name} to QCOW2?`}
      progress={<OperationProgress text={`Converting and checking…${pct !== null ? ` ${pct}%` : ''}`} percent={pct} label="Converting" />}
      stopped={op.stopped ? 'The conversion was stopped; the disk is unchanged.' : null}
      problem={op.problem}
      stop={op.running ? { onStop: () => void vms.cancel({ ref: vm.uuid }).catch(() => undefined) } : null}
      actions={
        <OperationButton onClick={go} busy={op.running} disabled={op.running || !disk || !off}>
          Convert
        </OperationButton>
      }
    >
      {disk && (
        <>
          <Para>
            Disk &apos;{disk.id}&apos; ({disk.file}) is {disk.format.toUpperCase()}, which cannot hold snapshots. Nestbox copies it into a new QCOW2
            image in the VM&apos;s folder, checks the copy, and only then switches &apos;{vm.name}&apos; over to it.
          </Para>
          <Para>The original file is not changed or deleted: delete it yourself once you no longer need it.</Para>
        </>
      )}
      {!off && (
        <Alert severity="warning" sx={{ mt: 1 }}>
          Power &apos;{vm.name}&apos; off first (or discard its saved state): a disk in use cannot be converted.
        </Alert>
      )}
    </OperationDialog>
  );
}
