/**
 * Settings of one VM, in VirtualBox's sections. What may change depends on the VM's state
 * as the core reports it (`allowed`): hardware only while it is off, the CD only while a
 * QEMU can take a new medium or none runs. Disabled fields say why. OK sends only the
 * fields that differ from the current config, in one vms.modify.
 */
import { useMemo, useState, type FormEvent, type ReactElement } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogTitle from '@mui/material/DialogTitle';
import FormControl from '@mui/material/FormControl';
import FormHelperText from '@mui/material/FormHelperText';
import InputLabel from '@mui/material/InputLabel';
import MenuItem from '@mui/material/MenuItem';
import Select from '@mui/material/Select';
import Tab from '@mui/material/Tab';
import Tabs from '@mui/material/Tabs';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import CableOutlinedIcon from '@mui/icons-material/CableOutlined';
import DeveloperBoardOutlinedIcon from '@mui/icons-material/DeveloperBoardOutlined';
import EjectOutlinedIcon from '@mui/icons-material/EjectOutlined';
import InfoOutlinedIcon from '@mui/icons-material/InfoOutlined';
import LanOutlinedIcon from '@mui/icons-material/LanOutlined';
import MonitorOutlinedIcon from '@mui/icons-material/MonitorOutlined';
import StorageOutlinedIcon from '@mui/icons-material/StorageOutlined';
import SpeedOutlinedIcon from '@mui/icons-material/SpeedOutlined';
import FolderSharedOutlinedIcon from '@mui/icons-material/FolderSharedOutlined';
import { ResourcesSection } from './ResourcesSection';
import { SharesSection } from './SharesSection';
import { resourceProblem } from './resources';
import { changesOf, draftOf, type Draft } from './draft';
import type { HostInfo, ModifyVmSpec, OpResult, VmInfo, VmSummary } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { CpuField, FirmwareField, MemoryField } from '../components/HardwareFields';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import { SecurityFields } from '../components/SecurityFields';
import { MediaPicker } from '../components/MediaPicker';
import { Field, Fields } from '../components/Section';
import { useMedia } from '../hooks/data';
import { NetworkSection } from '../network/NetworkSection';
import { DISPLAY_ADAPTERS, busLabel, displayLabel, formatLabel, type DisplayAdapter } from '../model/labels';
import { isActiveState, stateLabel } from '../model/vmState';
import { baseName } from '../util/format';
import { cpusProblem, groupProblem, isAbsolutePath, memoryProblem, vmNameProblem } from '../util/validation';

type SectionId = 'general' | 'system' | 'resources' | 'display' | 'storage' | 'network' | 'shares' | 'serial';
const SECTIONS: readonly { readonly id: SectionId; readonly label: string; readonly icon: ReactElement }[] = [
  { id: 'general', label: 'General', icon: <InfoOutlinedIcon /> },
  { id: 'system', label: 'System', icon: <DeveloperBoardOutlinedIcon /> },
  { id: 'resources', label: 'Resources', icon: <SpeedOutlinedIcon /> },
  { id: 'display', label: 'Display', icon: <MonitorOutlinedIcon /> },
  { id: 'storage', label: 'Storage', icon: <StorageOutlinedIcon /> },
  { id: 'network', label: 'Network', icon: <LanOutlinedIcon /> },
  { id: 'shares', label: 'Shared folders', icon: <FolderSharedOutlinedIcon /> },
  { id: 'serial', label: 'Serial port', icon: <CableOutlinedIcon /> },
];

export const HARDWARE_LOCKED_TEXT = 'Memory, CPUs, firmware and display can be changed only while the VM is powered off';

export interface SettingsDialogProps {
  readonly vm: VmInfo | null;
  readonly open: boolean;
  readonly host: HostInfo;
  readonly vms: readonly VmSummary[];
  readonly onClose: () => void;
  /** Runs the modify with the VM marked busy; resolves with the result or throws. */
  readonly apply: (vm: VmInfo, changes: ModifyVmSpec) => Promise<OpResult>;
  readonly onApplied: (result: OpResult) => void;
}

export function SettingsDialog({ vm, open, onClose, ...rest }: SettingsDialogProps) {
  return (
    <Dialog
      open={open && vm !== null}
      onClose={(_, reason) => {
        if (reason !== 'backdropClick') onClose();
      }}
      maxWidth={false}
      aria-labelledby="settings-title"
      slotProps={{ paper: { sx: { width: 860, maxWidth: 'calc(100vw - 32px)', height: 600, maxHeight: 'calc(100vh - 32px)' } } }}
    >
      {open && vm && <SettingsBody key={vm.uuid} vm={vm} onClose={onClose} {...rest} />}
    </Dialog>
  );
}

function SettingsBody({ vm, host, vms, onClose, apply, onApplied }: Omit<SettingsDialogProps, 'open' | 'vm'> & { readonly vm: VmInfo }) {
  const [section, setSection] = useState<SectionId>('general');
  const [draft, setDraft] = useState<Draft>(() => draftOf(vm));
  const [submitting, setSubmitting] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const { media, reload } = useMedia(true);
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setDraft((d) => ({ ...d, [k]: v }));

  const hardwareEditable = vm.allowed.includes('modifyHardware');
  const renameLocked = vm.state === 'starting' || vm.state === 'saving';
  const hasCd = vm.config.cdroms.length > 0;
  const cdLocked = vm.state === 'saved' || vm.state === 'saving' || vm.state === 'starting';
  const othersRunningMiB = useMemo(
    () => vms.filter((v) => v.uuid !== vm.uuid && isActiveState(v.state)).reduce((s, v) => s + v.memoryMiB, 0),
    [vms, vm.uuid],
  );
  const changes = changesOf(vm, draft);
  const changed = Object.keys(changes).length > 0;

  const nameProblem = vmNameProblem(
    draft.name,
    vms.filter((v) => v.uuid !== vm.uuid).map((v) => v.name),
    vm.name,
  );
  const groupProb = groupProblem(draft.group);
  const problems: Readonly<Record<SectionId, string | null>> = {
    general: nameProblem ?? groupProb,
    system:
      changes.memoryMiB !== undefined || changes.cpus !== undefined
        ? (memoryProblem(draft.memoryMiB, host.memoryMiB) ?? cpusProblem(draft.cpus, host.cpus))
        : null,
    resources: resourceProblem(draft.resources, draft.cpus, draft.memoryMiB),
    display: null,
    storage: draft.iso.trim() !== '' && !isAbsolutePath(draft.iso.trim()) ? 'The ISO path must be absolute.' : null,
    network: null,
    shares: null,
    serial: null,
  };
  const firstProblem = SECTIONS.map((s) => problems[s.id]).find((p) => p !== null) ?? null;

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (submitting || firstProblem !== null) return;
    if (!changed) {
      onClose();
      return;
    }
    setSubmitting(true);
    setProblem(null);
    apply(vm, changes).then(
      (result) => {
        setSubmitting(false);
        onApplied(result);
      },
      (err: unknown) => {
        setSubmitting(false);
        setProblem(toProblem(err, 'The settings were not applied'));
      },
    );
  };

  const lockedAlert = !hardwareEditable && (
    <Alert severity="info" role="note">
      {HARDWARE_LOCKED_TEXT}. '{vm.name}' is {stateLabel(vm.state).toLowerCase()}
      {vm.state === 'saved' ? ' — discard its saved state or start and shut it down first.' : '.'}
    </Alert>
  );

  const panel = (() => {
    switch (section) {
      case 'general':
        return (
          <>
            <TextField
              label="Name"
              value={draft.name}
              disabled={renameLocked}
              onChange={(e) => set('name', e.target.value)}
              error={nameProblem !== null}
              helperText={
                renameLocked
                  ? `The name cannot change while the VM is ${stateLabel(vm.state).toLowerCase()}.`
                  : (nameProblem ?? 'Letters, digits, spaces and . _ ( ) + -')
              }
              slotProps={{ htmlInput: { spellCheck: false, autoComplete: 'off' } }}
            />
            <TextField
              label="Group"
              value={draft.group}
              onChange={(e) => set('group', e.target.value)}
              error={groupProb !== null}
              helperText={groupProb ?? 'VMs with the same group are listed together; leave empty for none.'}
            />
            <TextField label="Description" value={draft.description} onChange={(e) => set('description', e.target.value)} multiline minRows={4} maxRows={10} />
            <TextField
              label="Automatic snapshots before each start"
              type="number"
              value={draft.autoSnapshots}
              onChange={(e) => {
                const n = Math.trunc(Number(e.target.value));
                set('autoSnapshots', Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : 0);
              }}
              helperText={
                draft.autoSnapshots > 0
                  ? `A disk snapshot is taken each time the VM starts from powered off ("undo this session"); the ${draft.autoSnapshots} newest are kept.`
                  : 'Off. Set how many to keep (1–100) to take a disk snapshot each time the VM starts.'
              }
              slotProps={{ htmlInput: { min: 0, max: 100, step: 1 } }}
            />
          </>
        );
      case 'system':
        return (
          <>
            {lockedAlert}
            <MemoryField
              value={draft.memoryMiB}
              onChange={(v) => set('memoryMiB', v)}
              hostMiB={host.memoryMiB}
              othersRunningMiB={othersRunningMiB}
              disabled={!hardwareEditable}
            />
            <CpuField value={draft.cpus} onChange={(v) => set('cpus', v)} hostCpus={host.cpus} disabled={!hardwareEditable} />
            <FirmwareField value={draft.firmware} onChange={(f) => set('firmware', f)} uefiPath={host.firmware.uefi} disabled={!hardwareEditable} />
            <SecurityFields
              firmware={draft.firmware}
              secureBoot={draft.secureBoot}
              tpm={draft.tpm}
              onSecureBoot={(on) => set('secureBoot', on)}
              onTpm={(on) => set('tpm', on)}
              secureBootFirmware={host.firmware.secureBoot ?? null}
              swtpm={host.swtpm ?? null}
              disabled={!hardwareEditable}
            />
            {vm.config.tpm === true && (
              <FormControlLabel
                control={<Checkbox checked={draft.resetTpm} onChange={(e) => set('resetTpm', e.target.checked)} disabled={!hardwareEditable} />}
                label="Reset the TPM on Apply: erases everything the guest kept in it (BitLocker keys, Windows Hello). Only for a TPM whose state is stale or damaged."
              />
            )}
          </>
        );
      case 'resources':
        return (
          <ResourcesSection
            vm={vm}
            host={host}
            draft={draft.resources}
            onChange={(r) => set('resources', r)}
            offlineEditable={hardwareEditable}
          />
        );
      case 'display':
        return (
          <>
            {lockedAlert}
            <FormControl disabled={!hardwareEditable}>
              <InputLabel id="settings-display-label">Graphics adapter</InputLabel>
              <Select labelId="settings-display-label" label="Graphics adapter" value={draft.display} onChange={(e) => set('display', e.target.value as DisplayAdapter)}>
                {DISPLAY_ADAPTERS.map((a) => (
                  <MenuItem key={a} value={a}>
                    {displayLabel(a)}
                  </MenuItem>
                ))}
              </Select>
              <FormHelperText>Standard VGA works with every guest; Virtio GPU needs guest drivers (Linux has them).</FormHelperText>
            </FormControl>
            <FormControl disabled={!hardwareEditable || draft.display === 'none'}>
              <FormControlLabel
                control={<Checkbox checked={draft.clipboard && draft.display !== 'none'} onChange={(e) => set('clipboard', e.target.checked)} />}
                label="Share the clipboard with the console"
              />
              <FormHelperText>Copy and paste of text between this computer and the guest's desktop; the guest needs spice-vdagent (Linux) or the SPICE guest tools (Windows).</FormHelperText>
            </FormControl>
          </>
        );
      case 'storage':
        return (
          <>
            <Box>
              <Typography variant="subtitle2" component="h3" sx={{ mb: 1 }}>
                Hard disks
              </Typography>
              {vm.config.disks.length === 0 ? (
                <Typography variant="body2" color="text.secondary">
                  None. Adding and removing disks arrives with the storage issue.
                </Typography>
              ) : (
                <Fields>
                  {vm.config.disks.map((d, i) => (
                    <Field key={d.id} label={`Disk ${i + 1}`}>
                      <span title={d.file}>{baseName(d.file)}</span>
                      <Box component="span" sx={{ color: 'text.secondary' }}>
                        {' '}
                        · {formatLabel(d.format)} · {busLabel(d.bus)}
                      </Box>
                    </Field>
                  ))}
                </Fields>
              )}
            </Box>
            <Box>
              <Box sx={{ display: 'flex', alignItems: 'center', justifyContent: 'space-between', mb: 1 }}>
                <Typography variant="subtitle2" component="h3">
                  CD/DVD drive
                </Typography>
                <Button size="small" startIcon={<EjectOutlinedIcon />} disabled={!hasCd || cdLocked || draft.iso === ''} onClick={() => set('iso', '')}>
                  Eject
                </Button>
              </Box>
              {!hasCd ? (
                <Alert severity="info" role="note">This VM has no CD/DVD drive.</Alert>
              ) : (
                <>
                  {cdLocked && (
                    <Alert severity="info" role="note" sx={{ mb: 2 }}>
                      The disc cannot be changed while the VM is {stateLabel(vm.state).toLowerCase()}.
                    </Alert>
                  )}
                  {!cdLocked && isActiveState(vm.state) && (
                    <Typography variant="caption" color="text.secondary" component="p" sx={{ mb: 1.5 }}>
                      The VM is running: the new disc is inserted right away, as if you swapped it in a real drive.
                    </Typography>
                  )}
                  <MediaPicker kind="iso" value={draft.iso} onChange={(p) => set('iso', p)} media={media} reloadMedia={reload} disabled={cdLocked} />
                </>
              )}
            </Box>
          </>
        );
      case 'network':
        return <NetworkSection vm={vm} />;
      case 'shares':
        return <SharesSection vm={vm} />;
      case 'serial':
        return (
          <>
            <Alert severity="info" role="note">The serial port settings are fixed for now; the console issue makes them interactive.</Alert>
            <Fields>
              <Field label="Port 1">{vm.config.serial.enabled ? 'Enabled' : 'Disabled'}</Field>
              {vm.config.serial.enabled && (
                <Field label="Log file" mono>
                  {vm.serialLog}
                </Field>
              )}
            </Fields>
          </>
        );
      default:
        return assertNever(section, 'settings section');
    }
  })();

  const current = SECTIONS.find((s) => s.id === section);
  return (
    <Box component="form" onSubmit={submit} noValidate sx={{ display: 'flex', flexDirection: 'column', height: '100%', minHeight: 0 }}>
      <DialogTitle id="settings-title" sx={{ borderBottom: 1, borderColor: 'divider' }}>
        Settings — {vm.name}
      </DialogTitle>
      <Box sx={{ display: 'flex', flex: 1, minHeight: 0 }}>
        <Box sx={{ width: 200, flex: 'none', bgcolor: 'chrome.sidebar', borderRight: 1, borderColor: 'divider', py: 1.5 }}>
          <Tabs
            orientation="vertical"
            value={section}
            onChange={(_, v: SectionId) => setSection(v)}
            aria-label="Settings sections"
            sx={{
              '& .MuiTabs-indicator': { left: 0, right: 'auto', width: 3, borderRadius: 2 },
              '& .MuiTab-root': { alignItems: 'center', justifyContent: 'flex-start', gap: 1.25, px: 2.25, minHeight: 38, color: 'text.secondary' },
              '& .MuiTab-root.Mui-selected': { color: 'text.primary', bgcolor: 'action.selected' },
              '& .MuiTab-root svg': { fontSize: 18, mb: '0 !important' },
            }}
          >
            {SECTIONS.map((s) => (
              <Tab
                key={s.id}
                value={s.id}
                id={`settings-tab-${s.id}`}
                aria-controls="settings-panel"
                icon={s.icon}
                iconPosition="start"
                label={
                  <Box component="span" sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.75 }}>
                    {s.label}
                    {problems[s.id] !== null && <Box component="span" aria-label="has a problem" sx={{ width: 6, height: 6, borderRadius: '50%', bgcolor: 'error.main' }} />}
                  </Box>
                }
              />
            ))}
          </Tabs>
        </Box>
        <Box id="settings-panel" role="tabpanel" aria-labelledby={`settings-tab-${section}`} sx={{ flex: 1, minWidth: 0, overflowY: 'auto', px: 3.5, py: 3 }}>
          <Box sx={{ display: 'grid', gap: 2.5, maxWidth: 600 }}>
            <Typography variant="h6" component="h3">
              {current?.label}
            </Typography>
            {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} />}
            {panel}
          </Box>
        </Box>
      </Box>
      <DialogActions sx={{ borderTop: 1, borderColor: 'divider', px: 2.5 }}>
        <Box sx={{ flex: 1, minWidth: 0 }}>
          {firstProblem !== null ? (
            <Typography variant="caption" color="error" role="status" noWrap title={firstProblem}>
              {firstProblem}
            </Typography>
          ) : (
            changed && (
              <Typography variant="caption" color="text.secondary" noWrap>
                Changed: {Object.keys(changes).map(changeLabel).join(', ')}
              </Typography>
            )
          )}
        </Box>
        <Button onClick={onClose} disabled={submitting}>
          Cancel
        </Button>
        <Button
          type="submit"
          variant="contained"
          disabled={submitting || firstProblem !== null}
          startIcon={submitting ? <CircularProgress size={14} color="inherit" /> : undefined}
          sx={{ minWidth: 80 }}
        >
          OK
        </Button>
      </DialogActions>
    </Box>
  );
}

function changeLabel(k: string): string {
  switch (k as keyof ModifyVmSpec) {
    case 'name':
      return 'name';
    case 'description':
      return 'description';
    case 'group':
      return 'group';
    case 'memoryMiB':
      return 'memory';
    case 'cpus':
      return 'CPUs';
    case 'firmware':
      return 'firmware';
    case 'display':
      return 'display';
    case 'iso':
      return 'CD/DVD';
    case 'resources':
      return 'resources';
    case 'autoSnapshots':
      return 'automatic snapshots';
    default:
      return k;
  }
}
