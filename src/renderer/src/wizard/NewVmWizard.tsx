/**
 * The New VM wizard: five steps in a modal, like VirtualBox's. Each step validates as the
 * user types and "Next" stays disabled with the reason shown beside it; Back keeps every
 * entry, because the draft lives above the steps. Finish sends one vms.create.
 */
import { useEffect, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogTitle from '@mui/material/DialogTitle';
import FormControl from '@mui/material/FormControl';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormHelperText from '@mui/material/FormHelperText';
import InputAdornment from '@mui/material/InputAdornment';
import InputLabel from '@mui/material/InputLabel';
import ListSubheader from '@mui/material/ListSubheader';
import MenuItem from '@mui/material/MenuItem';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import Select from '@mui/material/Select';
import Step from '@mui/material/Step';
import StepLabel from '@mui/material/StepLabel';
import Stepper from '@mui/material/Stepper';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import InfoOutlinedIcon from '@mui/icons-material/InfoOutlined';
import type { HostInfo, HostSummary, OpResult, OsType, VmSummary } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { CpuField, FirmwareField, MemoryField } from '../components/HardwareFields';
import { SecurityFields } from '../components/SecurityFields';
import { MediaPicker } from '../components/MediaPicker';
import { OsIcon, type OsFamily } from '../components/OsIcon';
import { useMedia } from '../hooks/data';
import { firmwareLabel } from '../model/labels';
import { isActiveState } from '../model/vmState';
import { formatMiB } from '../util/format';
import { MAX_NAME_LENGTH } from '../util/validation';
import { STEPS, diskSizeValue, initialDraft, stepProblem, toSpec, touch, withOsType, type Draft, type StepIndex } from './draft';
import { useVmActions } from '../actions/useVmActions';
import { MinimumsNote, UnattendedFields } from './UnattendedFields';
import { CreateOnField, HostPlacementStep, useHostPools } from './HostPlacementStep';
import { LOCAL_PLACEMENT, NOT_ON_HOST, defaultPool, hostLimits, hostStepProblem, placementOn, toHostSpec, type HostPlacement } from './hostPlacement';
import { WizardSummary } from './WizardSummary';

export interface NewVmWizardProps {
  readonly open: boolean;
  readonly host: HostInfo;
  readonly vms: readonly VmSummary[];
  /** The libvirt hosts Nestbox knows: with any, the first step offers "Create on" one of them. */
  readonly hosts?: readonly HostSummary[];
  readonly onClose: () => void;
  readonly onCreated: (result: OpResult) => void;
  /** Fields filled in before the user starts (a dropped ISO: its name, a guessed type, the ISO). */
  readonly initial?: WizardPrefill;
}

export interface WizardPrefill {
  readonly name?: string;
  readonly osType?: string;
  readonly iso?: string;
  /** The ISO was uploaded for this (web mode): cancelling the wizard removes the upload again. */
  readonly uploaded?: boolean;
}

export function NewVmWizard({ open, onClose, ...rest }: NewVmWizardProps) {
  return (
    <Dialog
      open={open}
      onClose={(_, reason) => {
        // A stray click outside must not throw away a half-filled wizard.
        if (reason !== 'backdropClick') onClose();
      }}
      maxWidth={false}
      aria-labelledby="new-vm-title"
      slotProps={{ paper: { sx: { width: 900, maxWidth: 'calc(100vw - 32px)', height: 620, maxHeight: 'calc(100vh - 32px)' } } }}
    >
      {open && <WizardBody onClose={onClose} {...rest} />}
    </Dialog>
  );
}

const FAMILY_ORDER: readonly OsFamily[] = ['linux', 'windows', 'bsd', 'other'];
function familyTitle(f: OsFamily): string {
  switch (f) {
    case 'linux':
      return 'Linux';
    case 'windows':
      return 'Windows';
    case 'bsd':
      return 'BSD';
    case 'other':
      return 'Other';
    default:
      return assertNever(f, 'OS family');
  }
}

function WizardBody({ host: local, vms, hosts = [], onClose, onCreated, initial }: Omit<NewVmWizardProps, 'open'>) {
  const vmActions = useVmActions();
  const [placement, setPlacement] = useState<HostPlacement>(LOCAL_PLACEMENT);
  const onHost = placement.host;
  const hostSummary = onHost !== null ? hosts.find((h) => h.name === onHost) : undefined;
  /** This computer, or the chosen host's CPUs and memory in place of this computer's. */
  const host = useMemo(() => (onHost !== null ? hostLimits(local, hostSummary) : local), [local, onHost, hostSummary]);
  const { pools, problem: poolsProblem, reload: reloadPools } = useHostPools(onHost);
  const [copying, setCopying] = useState(false);
  const [draft, setDraft] = useState<Draft>(() => {
    let d = initialDraft(local);
    const t = initial?.osType ? local.osTypes.find((x) => x.id === initial.osType) : undefined;
    if (t) d = withOsType(d, t, local);
    if (initial?.name) d = touch(d, 'name', initial.name);
    if (initial?.iso) d = touch(d, 'iso', initial.iso);
    return d;
  });
  const [step, setStep] = useState<StepIndex>(0);
  const [submitting, setSubmitting] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [nameTouched, setNameTouched] = useState(false);
  const { media, reload } = useMedia(true);

  const takenNames = useMemo(() => vms.map((v) => v.name), [vms]);
  const takenOnHost = useMemo(() => vms.filter((v) => onHost !== null && v.host === onHost).map((v) => v.name), [vms, onHost]);
  const runningMiB = useMemo(() => vms.filter((v) => (v.host ?? null) === onHost && isActiveState(v.state)).reduce((s, v) => s + v.memoryMiB, 0), [vms, onHost]);
  const ctx = { host, takenNames };
  const problemAt = (s: StepIndex) => (onHost !== null ? hostStepProblem(s, draft, placement, { host, takenOnHost, pools }) : stepProblem(s, draft, ctx));
  const blocker = copying ? 'Copying the ISO to the host…' : problemAt(step);

  // A host's pools arrive after it is chosen: the disk goes to its 'default' pool unless the user picked another.
  useEffect(() => {
    if (pools && !pools.some((p) => p.name === placement.pool && p.active)) setPlacement((p) => ({ ...p, pool: defaultPool(pools) }));
  }, [pools, placement.pool]);

  /** Another place: its presets fitted to that machine, the fields typed by hand kept. */
  const placeOn = (name: string | null) => {
    setPlacement(placementOn(name));
    const limits = name !== null ? hostLimits(local, hosts.find((h) => h.name === name)) : local;
    const t = local.osTypes.find((x) => x.id === draft.osType);
    if (t) setDraft((d) => withOsType(d, t, limits));
  };
  const osType = host.osTypes.find((t) => t.id === draft.osType);
  const last = step === STEPS.length - 1;

  const next = () => {
    if (blocker !== null || submitting) return;
    if (!last) {
      setStep((s) => Math.min(s + 1, STEPS.length - 1) as StepIndex);
      return;
    }
    // Every step is checked again: the list may have changed while the wizard was open.
    for (let s = 0; s < STEPS.length; s++) {
      const p = problemAt(s as StepIndex);
      if (p !== null) {
        setStep(s as StepIndex);
        return;
      }
    }
    setSubmitting(true);
    setProblem(null);
    vmActions.create(onHost !== null ? toHostSpec(draft, placement) : toSpec(draft)).then(
      (result) => {
        setSubmitting(false);
        onCreated(result);
      },
      (err: unknown) => {
        setSubmitting(false);
        setProblem(toProblem(err, `Could not create '${draft.name}'`));
      },
    );
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    next();
  };

  return (
    <Box component="form" onSubmit={onSubmit} noValidate sx={{ display: 'flex', flexDirection: 'column', height: '100%', minHeight: 0 }}>
      <DialogTitle id="new-vm-title" sx={{ borderBottom: 1, borderColor: 'divider' }}>
        Create Virtual Machine
      </DialogTitle>
      <Box sx={{ display: 'flex', flex: 1, minHeight: 0 }}>
        <Box sx={{ width: 230, flex: 'none', bgcolor: 'chrome.sidebar', borderRight: 1, borderColor: 'divider', p: 2.5 }}>
          <Stepper activeStep={step} orientation="vertical" aria-label="Steps">
            {STEPS.map((label, i) => (
              <Step key={label} completed={i < step}>
                <StepLabel optional={i === 1 && onHost === null ? <Typography variant="caption" color="text.secondary">Optional</Typography> : undefined}>
                  {i === 1 && onHost !== null ? 'Storage, media and network' : label}
                </StepLabel>
              </Step>
            ))}
          </Stepper>
        </Box>
        <Box sx={{ flex: 1, minWidth: 0, overflowY: 'auto', px: 3.5, py: 3 }}>
          {step === 0 && (
            <StepFrame title="Name and operating system" intro="Give the machine a name and say what you will install; the type fills in sensible hardware defaults.">
              <TextField
                label="Name"
                value={draft.name}
                autoFocus
                required
                onChange={(e) => {
                  setNameTouched(true);
                  setDraft((d) => touch(d, 'name', e.target.value));
                }}
                onBlur={() => setNameTouched(true)}
                error={nameTouched && blocker !== null && draft.name !== '' && blocker !== 'Choose the type of operating system.'}
                helperText={
                  nameTouched && draft.name !== '' && blocker !== null
                    ? blocker
                    : onHost !== null
                      ? 'Letters, digits and . _ + - (up to 64 characters; libvirt takes no spaces)'
                      : `Letters, digits, spaces and . _ ( ) + - (up to ${MAX_NAME_LENGTH} characters)`
                }
                slotProps={{ htmlInput: { maxLength: MAX_NAME_LENGTH + 8, spellCheck: false, autoComplete: 'off' } }}
              />
              <OsTypeSelect types={host.osTypes} value={draft.osType} onChange={(t) => setDraft((d) => withOsType(d, t, host))} />
              {hosts.length > 0 && <CreateOnField hosts={hosts} value={onHost} onChange={placeOn} />}
              <TextField
                label="Group (optional)"
                value={onHost !== null ? '' : draft.group}
                disabled={onHost !== null}
                onChange={(e) => setDraft((d) => touch(d, 'group', e.target.value))}
                helperText={onHost !== null ? NOT_ON_HOST.group : 'VMs with the same group are listed together.'}
                slotProps={{ htmlInput: { spellCheck: false, autoComplete: 'off' } }}
              />
              {onHost === null && (
                <Typography variant="caption" color="text.secondary">
                  Files are stored in <code>{host.dataDir}</code>.
                </Typography>
              )}
            </StepFrame>
          )}
          {step === 1 && onHost !== null && (
            <StepFrame title={`Storage, media and network on ${onHost}`} intro="Where the disk goes on the host, what the VM installs from, and how it reaches the network.">
              <HostPlacementStep
                placement={{ ...placement, host: onHost }}
                onChange={setPlacement}
                pools={pools}
                poolsProblem={poolsProblem}
                reloadPools={reloadPools}
                media={media}
                reloadMedia={reload}
                onCopying={setCopying}
              />
            </StepFrame>
          )}
          {step === 1 && onHost === null && (
            <StepFrame title="Installation media" intro="Choose the ISO image to install from. It goes into the VM’s CD/DVD drive; you can change or eject it later in Settings.">
              <MediaPicker kind="iso" value={draft.iso} onChange={(p) => setDraft((d) => touch(d, 'iso', p))} media={media} reloadMedia={reload} />
              {draft.iso === '' && (
                <Alert severity="info" role="note" icon={<InfoOutlinedIcon fontSize="inherit" />}>
                  No ISO: the CD/DVD drive stays empty and the VM boots from its disk or the network.
                </Alert>
              )}
              <UnattendedFields draft={draft} onChange={(u) => setDraft((d) => ({ ...d, unattended: u }))} />
            </StepFrame>
          )}
          {step === 2 && (
            <StepFrame title="Hardware" intro={`How much of ${onHost !== null ? `host ${onHost}` : 'this host'} (${host.cpus} CPUs, ${formatMiB(host.memoryMiB)}) the machine may use.`}>
              <MemoryField
                value={draft.memoryMiB}
                onChange={(v) => setDraft((d) => touch(d, 'memoryMiB', v, 'memory'))}
                hostMiB={host.memoryMiB}
                othersRunningMiB={runningMiB}
              />
              <CpuField value={draft.cpus} onChange={(v) => setDraft((d) => touch(d, 'cpus', v, 'cpus'))} hostCpus={host.cpus} />
              <FirmwareField value={draft.firmware} onChange={(f) => setDraft((d) => touch(d, 'firmware', f, 'firmware'))} uefiPath={host.firmware.uefi} />
              {onHost !== null ? (
                <Alert severity="info" role="note" icon={<InfoOutlinedIcon fontSize="inherit" />}>
                  {NOT_ON_HOST.security}
                </Alert>
              ) : (
              <SecurityFields
                firmware={draft.firmware}
                secureBoot={draft.secureBoot}
                tpm={draft.tpm}
                onSecureBoot={(on) => setDraft((d) => touch(d, 'secureBoot', on, 'secureBoot'))}
                onTpm={(on) => setDraft((d) => touch(d, 'tpm', on, 'tpm'))}
                secureBootFirmware={host.firmware.secureBoot ?? null}
                swtpm={host.swtpm ?? null}
              />
              )}
              <MinimumsNote draft={draft} fields={['memoryMiB', 'cpus']} />
            </StepFrame>
          )}
          {step === 3 && (
            <StepFrame title="Hard disk" intro="A virtual hard disk holds the installed system.">
              <FormControl>
                <RadioGroup
                  aria-label="Hard disk"
                  value={draft.diskMode}
                  onChange={(e) => {
                    const v = e.target.value;
                    setDraft((d) => touch(d, 'diskMode', v === 'existing' ? 'existing' : v === 'none' ? 'none' : 'new'));
                  }}
                >
                  <FormControlLabel value="new" control={<Radio />} label="Create a new disk" />
                  {draft.diskMode === 'new' && (
                    <Indented>
                      <TextField
                        label="Disk size (GiB)"
                        type="number"
                        value={draft.diskSizeGiB}
                        onChange={(e) => setDraft((d) => touch(d, 'diskSizeGiB', e.target.value, 'diskSize'))}
                        error={!Number.isFinite(diskSizeValue(draft.diskSizeGiB))}
                        helperText={`${onHost !== null ? `A QCOW2 volume in pool '${placement.pool}' on ${onHost}` : 'A QCOW2 image in the VM’s folder'} that grows as the guest writes to it${osType ? ` (${osType.label} suggests ${osType.preset.diskGiB} GiB)` : ''}.`}
                        slotProps={{ htmlInput: { min: 1, step: 1 }, input: { endAdornment: <InputAdornment position="end">GiB</InputAdornment> } }}
                        sx={{ maxWidth: 360 }}
                      />
                    </Indented>
                  )}
                  <FormControlLabel value="existing" control={<Radio />} label="Use an existing disk" disabled={onHost !== null} />
                  {onHost !== null && (
                    <Indented>
                      <FormHelperText sx={{ mt: -0.5 }}>{NOT_ON_HOST.existingDisk}</FormHelperText>
                    </Indented>
                  )}
                  {draft.diskMode === 'existing' && (
                    <Indented>
                      <MediaPicker
                        kind="disk"
                        value={draft.diskPath}
                        onChange={(p) => setDraft((d) => touch(d, 'diskPath', p))}
                        media={media}
                        reloadMedia={reload}
                        allowNone={false}
                      />
                    </Indented>
                  )}
                  <FormControlLabel value="none" control={<Radio />} label="No disk" />
                  {draft.diskMode === 'none' && (
                    <Indented>
                      <FormHelperText sx={{ mt: -0.5 }}>Boot from the ISO only, as a live system. You can add a disk later.</FormHelperText>
                    </Indented>
                  )}
                </RadioGroup>
              </FormControl>
              <MinimumsNote draft={draft} fields={['diskGiB']} />
            </StepFrame>
          )}
          {step === 4 && (
            <StepFrame title="Summary" intro="Check your choices, then Finish to create the machine.">
              {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} />}
              <WizardSummary draft={draft} osType={osType} placement={placement} />
              {onHost === null && (
                <Box role="group" aria-label="Guest integration" sx={{ display: 'grid', gap: 1, mt: 2 }}>
                  <FormControlLabel
                    control={<Checkbox checked={draft.clipboard} onChange={(e) => setDraft((d) => ({ ...d, clipboard: e.target.checked }))} />}
                    label="Share the clipboard with the console (needs spice-vdagent in the guest)"
                  />
                  <TextField
                    label="Share a folder of this computer (optional)"
                    size="small"
                    value={draft.share}
                    onChange={(e) => setDraft((d) => ({ ...d, share: e.target.value }))}
                    helperText="An absolute path; the guest mounts it by the folder's name (mount -t virtiofs NAME /mnt). More in Settings → Shared folders."
                    slotProps={{ htmlInput: { spellCheck: false, autoComplete: 'off' } }}
                  />
                  {draft.share.trim() !== '' && (
                    <FormControlLabel control={<Checkbox checked={draft.shareReadOnly} onChange={(e) => setDraft((d) => ({ ...d, shareReadOnly: e.target.checked }))} />} label="Read-only" />
                  )}
                </Box>
              )}
            </StepFrame>
          )}
        </Box>
      </Box>
      <DialogActions sx={{ borderTop: 1, borderColor: 'divider', px: 2.5 }}>
        <Box sx={{ flex: 1, minWidth: 0, display: 'flex', alignItems: 'center', gap: 0.75, color: 'text.secondary' }}>
          {blocker !== null && (
            <>
              <InfoOutlinedIcon sx={{ fontSize: 16, color: 'warning.main' }} />
              <Typography variant="caption" role="status" noWrap title={blocker}>
                {blocker}
              </Typography>
            </>
          )}
        </Box>
        <Button onClick={onClose} disabled={submitting}>
          Cancel
        </Button>
        <Button variant="outlined" onClick={() => setStep((s) => Math.max(0, s - 1) as StepIndex)} disabled={step === 0 || submitting || copying}>
          Back
        </Button>
        {last ? (
          <Button
            type="submit"
            variant="contained"
            disabled={blocker !== null || submitting}
            startIcon={submitting ? <CircularProgress size={14} color="inherit" /> : undefined}
            sx={{ minWidth: 88 }}
          >
            Finish
          </Button>
        ) : (
          <Button type="submit" variant="contained" disabled={blocker !== null} sx={{ minWidth: 88 }}>
            Next
          </Button>
        )}
      </DialogActions>
    </Box>
  );
}

function StepFrame({ title, intro, children }: { readonly title: string; readonly intro: string; readonly children: ReactNode }) {
  return (
    <Box sx={{ display: 'grid', gap: 2.5, maxWidth: 600 }}>
      <Box>
        <Typography variant="h6" component="h3">
          {title}
        </Typography>
        <Typography variant="body2" color="text.secondary" sx={{ mt: 0.5 }}>
          {intro}
        </Typography>
      </Box>
      {children}
    </Box>
  );
}

function Indented({ children }: { readonly children: ReactNode }) {
  return <Box sx={{ pl: 4, pr: 1, pt: 0.5, pb: 1.5 }}>{children}</Box>;
}

export function OsTypeSelect({ types, value, onChange, id = 'new-vm-type-label' }: { readonly types: readonly OsType[]; readonly onChange: (t: OsType) => void; readonly value: string; readonly id?: string }) {
  const items: ReactNode[] = [];
  for (const f of FAMILY_ORDER) {
    const members = types.filter((t) => t.family === f);
    if (members.length === 0) continue;
    items.push(<ListSubheader key={`h-${f}`}>{familyTitle(f)}</ListSubheader>);
    for (const t of members) {
      items.push(
        <MenuItem key={t.id} value={t.id}>
          <Box sx={{ display: 'flex', alignItems: 'center', gap: 1.25 }}>
            <OsIcon family={t.family} size={20} />
            {t.label}
          </Box>
        </MenuItem>,
      );
    }
  }
  const selected = types.find((t) => t.id === value);
  return (
    <FormControl>
      <InputLabel id={id}>Type</InputLabel>
      <Select
        labelId={id}
        label="Type"
        value={value}
        onChange={(e) => {
          const t = types.find((x) => x.id === e.target.value);
          if (t) onChange(t);
        }}
        renderValue={(id) => {
          const t = types.find((x) => x.id === id);
          return t ? (
            <Box sx={{ display: 'flex', alignItems: 'center', gap: 1.25 }}>
              <OsIcon family={t.family} size={20} />
              {t.label}
            </Box>
          ) : (
            id
          );
        }}
        MenuProps={{ slotProps: { paper: { sx: { maxHeight: 380 } } } }}
        SelectDisplayProps={{ style: { paddingTop: 6, paddingBottom: 6 } }}
      >
        {items}
      </Select>
      <FormHelperText>
        {selected
          ? `Defaults: ${formatMiB(selected.preset.memoryMiB)} memory, ${selected.preset.cpus} ${selected.preset.cpus === 1 ? 'CPU' : 'CPUs'}, ${selected.preset.diskGiB} GiB disk, ${firmwareLabel(selected.preset.firmware)}.`
          : 'The type decides the default hardware.'}
      </FormHelperText>
    </FormControl>
  );
}
