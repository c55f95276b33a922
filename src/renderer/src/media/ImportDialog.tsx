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
import { discardUpload } from './hostPath';
import { isActiveState } from '../model/vmState';
import { formatBytes } from '../util/format';
import { MAX_NAME_LENGTH, vmNameProblem } from '../util/validation';
import { OsTypeSelect } from '../wizard/NewVmWizard';
import { defaultOsType } from '../wizard/draft';
import { guessOsType, vmNameFromFile } from './dropped';
import { JobProgress, UploadProgressBar } from './JobProgress';
import { ImportPlanView } from './ImportPlanView';
import { useHostFile } from './useHostFile';
import { useJob } from './useJobs';
import { useVmActions } from '../actions/useVmActions';
import { useMediaActions } from '../actions/useMediaActions';

type Mode = 'copy' | 'inPlace' | 'attach';

export interface ImportDialogProps {
  readonly file: File;
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

function Body({ file, kind, host, vms, selectedVm, onClose, onImported }: ImportDialogProps) {
  const mediaActions = useMediaActions();
  const vmActions = useVmActions();
  const hostFile = useHostFile(file);
  const notify = useNotify();
  /** Set once the file was taken up (imported, attached): closing must then leave it be. */
  const used = useRef(false);
  const uploadedPath = hostFile.phase === 'ready' && hostFile.file.uploaded ? hostFile.file.path : null;
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
  useEffect(() => {
    if (kind !== 'appliance' || hostPath === null) return undefined;
    let live = true;
    vmActions.importPlan({ file: hostPath }).then(
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

  useEffect(() => {
    if (!memoryTouched && preset) setMemoryMiB(Math.min(preset.memoryMiB, host.memoryMiB));
  }, [preset, memoryTouched, host.memoryMiB]);

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
      <b>{file.name}</b> ({formatBytes(file.size)}){' '}
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
    {hostFile.phase === 'ready' && hostFile.file.uploaded && !job && !problem && (
      <Alert severity="info" role="note">
        Uploaded to the host’s media folder as {hostFile.file.path.split('/').pop()}.
      </Alert>
    )}
    </OperationDialog>
  );
}
