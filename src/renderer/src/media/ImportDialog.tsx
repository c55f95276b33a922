/**
 * A disk image or an appliance dropped on the Manager: a new VM from it (the disk converted
 * to QCOW2 in the VM's folder, or used where it is) or, for a disk, attached to the selected
 * VM. The import runs as a core job; its progress bar follows `job.progress`, and a refusal
 * (a hostile or broken image) shows the core's own message.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import Alert from '@mui/material/Alert';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormLabel from '@mui/material/FormLabel';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { HostInfo, ImportPlan, ImportSpec, JobInfo, OpResult, VmInfo, VmSummary } from '../../../core/api/contract';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { MemoryField } from '../components/HardwareFields';
import { OperationButton, OperationDialog } from '../components/OperationDialog';
import { useNotify } from '../components/Notifications';
import { discardMachineUpload, discardOnPageHide, discardUpload } from './hostPath';
import { isActiveState } from '../model/vmState';
import { formatBytes } from '../util/format';
import { MAX_NAME_LENGTH, vmNameProblem } from '../util/validation';
import { OsTypeSelect } from '../wizard/NewVmWizard';
import { defaultOsType } from '../wizard/draft';
import { dropItemName, guessOsType, vmNameFromFile, type DropItem } from './dropped';
import { JobProgress, UploadProgressBar } from './JobProgress';
import { ImportPlanView } from './ImportPlanView';
import { useHostSource } from './useHostFile';
import { useJob } from './useJobs';
import { useVmActions } from '../actions/useVmActions';
import { useMediaActions } from '../actions/useMediaActions';

type Mode = 'copy' | 'inPlace' | 'attach';

export interface ImportDialogProps {
  /** A dropped (or chosen) file, or a machine with the files that belong to it (web mode uploads them together). */
  readonly item: DropItem;
  readonly kind: 'disk' | 'appliance';
  readonly host: HostInfo;
  readonly vms: readonly VmSummary[];
  /** The selected VM, offered as the target of "attach" when it is powered off. */
  readonly selectedVm: VmInfo | null;
  readonly onClose: () => void;
  readonly onImported: (vm: VmInfo, warnings: readonly string[]) => void;
}

export function ImportDialog(props: ImportDialogProps) {
  return <Body {...props} />;
}

function Body({ item, kind, host, vms, selectedVm, onClose, onImported }: ImportDialogProps) {
  const mediaActions = useMediaActions();
  const vmActions = useVmActions();
  const hostFile = useHostSource(item);
  const notify = useNotify();
  /** What the dialog calls the source: the file, or the machine file (or .utm folder) of a machine. */
  const file = { name: dropItemName(item), size: item.kind === 'file' ? item.file.size : item.files.reduce((n, f) => n + f.file.size, 0) };
  /** A .vbox or .xml: the files beside it; a .utm folder: its files (the folder is the source). */
  const others = item.kind === 'machine' && item.descriptorFile ? item.files.length - 1 : 0;
  const bundleFiles = item.kind === 'machine' && !item.descriptorFile ? item.files.length : 0;
  /** Set once the file was taken up (imported, attached): closing must then leave it be. */
  const used = useRef(false);
  const uploadedPath = hostFile.phase === 'ready' && hostFile.file.uploaded && !hostFile.file.set ? hostFile.file.path : null;
  const uploadedSet = hostFile.phase === 'ready' ? (hostFile.file.set?.id ?? null) : null;
  // Closed without importing (Cancel, Escape, a failed or stopped import): the upload made
  // for this dialog goes again, so cancelled imports leave nothing in the media folder.
  // Only the path decides when this runs: nothing else re-rendering may discard the upload.
  const warn = useRef((message: string) => notify.warning(message, file.name));
  useEffect(() => {
    if (uploadedPath === null) return undefined;
    return () => {
      if (used.current) return;
      discardUpload(uploadedPath).catch((err: unknown) => warn.current((err as Error).message));
    };
  }, [uploadedPath]);
  // A machine's uploaded folder goes whenever the dialog closes: an import copies its disks
  // into the new VM's folder (appliances are never used in place), so nothing needs it after.
  useEffect(() => {
    if (uploadedSet === null) return undefined;
    const leaving = discardOnPageHide(uploadedSet);
    return () => {
      leaving();
      discardMachineUpload(uploadedSet).catch((err: unknown) => warn.current((err as Error).message));
    };
  }, [uploadedSet]);
  const taken = useMemo(() => vms.map((v) => v.name), [vms]);
  const [name, setName] = useState(() => vmNameFromFile(file.name, taken, MAX_NAME_LENGTH));
  const guessed = guessOsType(file.name, host.osTypes);
  const [osType, setOsType] = useState(() => (guessed ?? host.osTypes.find((t) => t.id === 'linux-other') ?? defaultOsType(host.osTypes))?.id ?? '');
  const preset = host.osTypes.find((t) => t.id === osType)?.preset;
  const [memoryMiB, setMemoryMiB] = useState(() => Math.min(preset?.memoryMiB ?? 1024, host.memoryMiB));
  const [memoryTouched, setMemoryTouched] = useState(false);
  const [mode, setMode] = useState<Mode>('copy');
  const [started, setStarted] = useState<JobInfo | null>(null);
  const job = useJob(started);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const runningMiB = useMemo(() => vms.filter((v) => isActiveState(v.state)).reduce((s, v) => s + v.memoryMiB, 0), [vms]);
  const canAttach = kind === 'disk' && selectedVm !== null && selectedVm.state === 'poweredOff';
  // An appliance or machine file: the core's plan of what it becomes, shown before anything is copied.
  const [plan, setPlan] = useState<ImportPlan | null>(null);
  const hostPath = hostFile.phase === 'ready' ? hostFile.file.path : null;
  // A domain XML uploaded with its disks: the core looks for them by name in the upload's folder.
  const diskFolder = hostFile.phase === 'ready' && hostFile.file.set && /\.xml$/i.test(file.name) ? hostFile.file.set.dir : null;
  useEffect(() => {
    if (kind !== 'appliance' || hostPath === null) return undefined;
    let live = true;
    vmActions.importPlan({ file: hostPath, ...(diskFolder ? { diskFolder } : {}) }).then(
      (p) => {
        if (!live) return;
        setPlan(p);
        if (!memoryTouched) setMemoryMiB(Math.min(p.memoryMiB, host.memoryMiB));
        if (host.osTypes.some((t) => t.id === p.osType)) setOsType(p.osType);
      },
      (err: unknown) => {
        if (live) setProblem(toProblem(err, `Nestbox cannot import ${file.name}`));
      },
    );
    return () => {
      live = false;
    };
    // Once per file: later edits of the type or memory are the user's (the name stays the file's).
  }, [kind, hostPath]);

  // The type's preset fills the memory until the user sets it, or the machine's plan says what the source has.
  useEffect(() => {
    if (!memoryTouched && preset && plan === null) setMemoryMiB(Math.min(preset.memoryMiB, host.memoryMiB));
  }, [preset, memoryTouched, host.memoryMiB, plan]);

  // The job's end: a VM to select, or the core's reason.
  useEffect(() => {
    if (!job || job.state === 'running') return;
    setBusy(false);
    if (job.state === 'done') {
      used.current = true;
      const vm = job.result as VmInfo | undefined;
      if (vm && typeof vm === 'object' && 'uuid' in vm) onImported(vm, []);
      else onClose();
    } else if (job.state === 'failed') {
      setProblem(toProblem(job.error ?? new Error('the import failed'), `Could not import ${file.name}`));
      setStarted(null);
    } else {
      setProblem({ title: 'Import cancelled', message: 'Nothing was left behind.' });
      setStarted(null);
    }
  }, [job, file.name, onImported, onClose]);

  const nameProblem = mode === 'attach' ? null : vmNameProblem(name, taken);
  const ready = hostFile.phase === 'ready';
  const running = busy || (job !== null && job.state === 'running');

  const submit = () => {
    if (!ready || running || nameProblem !== null) return;
    setProblem(null);
    setBusy(true);
    const path = hostFile.file.path;
    if (mode === 'attach' && selectedVm) {
      vmActions.attachDisk({ ref: selectedVm.uuid, path }).then(
        (res: OpResult) => {
          setBusy(false);
          used.current = true;
          onImported(res.vm, res.warnings);
        },
        (err: unknown) => {
          setBusy(false);
          setProblem(toProblem(err, `Could not attach ${file.name} to '${selectedVm.name}'`));
        },
      );
      return;
    }
    const spec: ImportSpec = {
      file: path,
      name: name.trim(),
      ...(osType ? { osType } : {}),
      memoryMiB,
      ...(kind === 'disk' ? { mode: mode === 'inPlace' ? 'inPlace' : 'copy' } : {}),
      ...(diskFolder ? { diskFolder } : {}),
    };
    vmActions.import(spec).then(
      (j) => setStarted(j),
      (err: unknown) => {
        setBusy(false);
        setProblem(toProblem(err, `Could not import ${file.name}`));
      },
    );
  };

  const cancelJob = () => {
    if (job) void mediaActions.cancelJob({ id: job.id }).catch(() => undefined);
  };

  const title = kind === 'appliance' ? 'Import Appliance' : 'Import Disk Image';
  return (
    <OperationDialog
      open
      running={running}
      onClose={onClose}
      keepOnBackdropClick
      titleId="import-title"
      title={title}
      dividers
      contentSx={{ display: 'grid', gap: 2.25 }}
      onSubmit={submit}
      stop={running && job ? { onStop: cancelJob } : null}
      actions={
        <OperationButton type="submit" busy={false} disabled={!ready || running || nameProblem !== null || (kind === 'appliance' && plan === null)}>
          {mode === 'attach' ? 'Attach' : 'Import'}
        </OperationButton>
      }
    >
    <Typography variant="body2" color="text.secondary">
      <b>{file.name}</b>
      {others > 0 ? ` with ${others} more file${others === 1 ? '' : 's'}` : ''} ({bundleFiles > 0 ? `${bundleFiles} file${bundleFiles === 1 ? '' : 's'}, ` : ''}
      {formatBytes(file.size)}){' '}
      {kind === 'appliance'
        ? 'becomes a new virtual machine; its disks are copied into the new VM’s folder.'
        : 'is checked by Nestbox’s image inspector and becomes the disk of a virtual machine.'}
    </Typography>
    {hostFile.phase === 'uploading' && <UploadProgressBar name={file.name} loaded={hostFile.progress.loaded} total={hostFile.progress.total} />}
    {hostFile.phase === 'failed' && <ProblemAlert problem={toProblem(hostFile.error, `Could not use ${file.name}`)} />}
    {kind === 'disk' && (
      <FormControl disabled={running}>
        <FormLabel id="import-mode">Use the image</FormLabel>
        <RadioGroup aria-labelledby="import-mode" value={mode} onChange={(e) => setMode(e.target.value as Mode)}>
          <FormControlLabel value="copy" control={<Radio />} label="Copy it into a new VM, converted to QCOW2 (snapshots work; the original stays untouched)" />
          <FormControlLabel value="inPlace" control={<Radio />} label="Use it where it is in a new VM (no copy; snapshots need QCOW2)" />
          {canAttach && <FormControlLabel value="attach" control={<Radio />} label={`Attach it to '${selectedVm.name}' as another disk`} />}
        </RadioGroup>
      </FormControl>
    )}
    {mode !== 'attach' && (
      <>
        <TextField
          label="Name"
          value={name}
          disabled={running}
          onChange={(e) => setName(e.target.value)}
          error={nameProblem !== null}
          helperText={nameProblem ?? (kind === 'appliance' ? 'Leave as is or name the new VM.' : 'The new virtual machine’s name.')}
          slotProps={{ htmlInput: { maxLength: MAX_NAME_LENGTH + 8, spellCheck: false, autoComplete: 'off' } }}
        />
        <OsTypeSelect id="import-type-label" types={host.osTypes} value={osType} onChange={(t) => setOsType(t.id)} />
        <MemoryField
          value={memoryMiB}
          onChange={(v) => {
            setMemoryTouched(true);
            setMemoryMiB(v);
          }}
          hostMiB={host.memoryMiB}
          othersRunningMiB={runningMiB}
          disabled={running}
        />
      </>
    )}
    {plan && mode !== 'attach' && <ImportPlanView plan={plan} />}
    {job && <JobProgress job={job} onCancel={cancelJob} />}
    {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} />}
    {hostFile.phase === 'ready' && hostFile.file.set && problem?.code === 'NOT_FOUND' && (
      <Alert severity="warning" role="note">
        {file.name} names a file that was not uploaded with it (above). Cancel, then drop {file.name} together with that file, or its whole folder (or choose the folder
        with Import → Choose a folder…). Uploaded: {hostFile.file.set.files.join(', ')}.
      </Alert>
    )}
    {hostFile.phase === 'ready' && hostFile.file.uploaded && !job && !problem && (
      <Alert severity="info" role="note">
        {hostFile.file.set
          ? `Uploaded to the host with ${hostFile.file.set.files.length === 1 ? 'its 1 file' : `its ${hostFile.file.set.files.length} files`} (${hostFile.file.set.files.join(', ')}), into a folder of their own that goes when this dialog closes.`
          : `Uploaded to the host’s media folder as ${hostFile.file.path.split('/').pop()}.`}
      </Alert>
    )}
    </OperationDialog>
  );
}
