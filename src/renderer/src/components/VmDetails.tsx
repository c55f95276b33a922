/**
 * The right pane: what the selected VM is made of, in the sections VirtualBox users look
 * for, with its screen and its recent activity beside them. Everything here is read-only;
 * changes go through Settings so there is one place that knows what may change when.
 */
import type { ReactNode } from 'react';
import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import LinearProgress from '@mui/material/LinearProgress';
import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';
import AlbumOutlinedIcon from '@mui/icons-material/AlbumOutlined';
import CableOutlinedIcon from '@mui/icons-material/CableOutlined';
import DeveloperBoardOutlinedIcon from '@mui/icons-material/DeveloperBoardOutlined';
import FolderSharedOutlinedIcon from '@mui/icons-material/FolderSharedOutlined';
import HistoryOutlinedIcon from '@mui/icons-material/HistoryOutlined';
import InfoOutlinedIcon from '@mui/icons-material/InfoOutlined';
import LanOutlinedIcon from '@mui/icons-material/LanOutlined';
import MonitorOutlinedIcon from '@mui/icons-material/MonitorOutlined';
import StorageOutlinedIcon from '@mui/icons-material/StorageOutlined';
import TvOutlinedIcon from '@mui/icons-material/TvOutlined';
import SpeedOutlinedIcon from '@mui/icons-material/SpeedOutlined';
import type { OsType, VmInfo } from '../../../core/api/contract';
import { useVmEvents } from '../hooks/data';
import type { BusyKind } from '../hooks/operations';
import { bootLabel, busLabel, displayLabel, firmwareLabel, formatLabel, machineLabel, nicModeLabel, nicModelLabel } from '../model/labels';
import { actionProgress } from '../model/vmState';
import { baseName, formatMiB, formatTime } from '../util/format';
import { OsIcon, familyOf } from './OsIcon';
import { Preview } from './Preview';
import { Field, Fields, Section } from './Section';
import { StateChip } from './StateIndicator';

/** The address QEMU's NAT DHCP server hands out first (.15 of the subnet). */
function natGuestIp(cidr: string | undefined): string {
  const [a, b, c, d] = (cidr ?? '10.0.2.0/24').split('/')[0]!.split('.').map(Number) as [number, number, number, number];
  const n = ((a * 256 + b) * 256 + c) * 256 + d + 15;
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export interface VmDetailsProps {
  readonly vm: VmInfo;
  readonly osTypes: readonly OsType[] | undefined;
  readonly busy: BusyKind | undefined;
  /** Opens the VM's console (from the preview thumbnail). */
  readonly onOpenConsole?: () => void;
}

function progressText(vm: VmInfo, busy: BusyKind | undefined): string | null {
  if (busy) return actionProgress(busy);
  switch (vm.state) {
    case 'starting':
      return 'Starting…';
    case 'saving':
      return 'Saving the machine state…';
    case 'stopping':
      return 'Waiting for the guest to shut down…';
    default:
      return null;
  }
}

const RESOURCE_LABELS: Readonly<Record<NonNullable<VmInfo['resourceStatus']>[number]['setting'], string>> = {
  cpuShares: 'CPU priority',
  cpuLimitPct: 'CPU limit',
  pinCpus: 'Host CPUs',
  memoryMaxMiB: 'Memory ceiling',
  balloon: 'Memory balloon',
  memMerge: 'Page sharing',
  topology: 'CPU topology',
};

function resourceValue(vm: VmInfo, setting: keyof typeof RESOURCE_LABELS): string {
  const r = vm.config.resources ?? {};
  switch (setting) {
    case 'cpuShares':
      return `${r.cpuShares ?? 100} shares`;
    case 'cpuLimitPct':
      return `${r.cpuLimitPct ?? 100} % of the host`;
    case 'pinCpus':
      return r.pinCpus ? r.pinCpus.join(', ') : 'any';
    case 'memoryMaxMiB':
      return r.memoryMaxMiB === undefined ? 'none' : formatMiB(r.memoryMaxMiB);
    case 'balloon':
      return r.balloon ? 'virtio-balloon' : 'none';
    case 'memMerge':
      return r.memMerge === false ? 'never' : 'mergeable';
    case 'topology':
      return `${r.sockets ?? 1} × ${r.cores ?? 1} × ${r.threads ?? 1} (sockets × cores × threads)`;
  }
}

export function VmDetails({ vm, osTypes, busy, onOpenConsole }: VmDetailsProps) {
  const os = osTypes?.find((t) => t.id === vm.config.osType);
  const { config } = vm;
  const progress = progressText(vm, busy);
  const events = useVmEvents(vm.uuid);

  return (
    <Box sx={{ flex: 1, minWidth: 0, overflowY: 'auto', containerType: 'inline-size', containerName: 'details' }}>
      <Box sx={{ maxWidth: 1320, px: 3, py: 2.5 }}>
        <Box component="header" sx={{ display: 'flex', alignItems: 'center', gap: 2, mb: 2 }}>
          <OsIcon family={familyOf(config.osType, osTypes)} size={52} label={os?.label ?? config.osType} />
          <Box sx={{ minWidth: 0, flex: 1 }}>
            <Box sx={{ display: 'flex', alignItems: 'center', gap: 1.5, flexWrap: 'wrap' }}>
              <Typography variant="h5" component="h1" noWrap sx={{ userSelect: 'text' }}>
                {vm.name}
              </Typography>
              <StateChip state={vm.state} />
            </Box>
            <Typography variant="body2" color="text.secondary" noWrap>
              {os?.label ?? config.osType}
              {config.group ? ` · ${config.group}` : ''}
              {vm.runtime ? ` · ${vm.runtime.accel.toUpperCase()} · since ${formatTime(vm.runtime.startedAt)}` : ''}
              {vm.hasSavedState && vm.state === 'saved' ? ' · machine state saved' : ''}
            </Typography>
          </Box>
        </Box>

        {progress !== null && (
          <Box sx={{ mb: 2 }} role="status" aria-live="polite">
            <Typography variant="caption" color="text.secondary" sx={{ display: 'block', mb: 0.5 }}>
              {progress}
            </Typography>
            <LinearProgress aria-label={progress} />
          </Box>
        )}

        {vm.inaccessible !== undefined && (
          <Alert severity="warning" sx={{ mb: 2 }} data-testid="vm-inaccessible">
            <AlertTitle sx={{ fontSize: '0.8125rem', fontWeight: 600 }}>Inaccessible</AlertTitle>
            <Box sx={{ userSelect: 'text' }}>{vm.inaccessible}</Box>
            <Typography variant="caption" component="div" sx={{ mt: 0.5, opacity: 0.85 }}>
              It cannot start until the file is back or the disk is detached in Settings › Storage.
            </Typography>
          </Alert>
        )}

        {vm.state === 'aborted' && (
          <Alert severity="error" sx={{ mb: 2 }}>
            <AlertTitle sx={{ fontSize: '0.8125rem', fontWeight: 600 }}>The virtual machine stopped unexpectedly</AlertTitle>
            <Box sx={{ userSelect: 'text' }}>{vm.stateReason ?? 'QEMU exited without being asked to.'}</Box>
            <Typography variant="caption" component="div" sx={{ mt: 0.5, opacity: 0.85, userSelect: 'text' }}>
              QEMU log: {vm.qemuLog}
            </Typography>
          </Alert>
        )}

        <Box
          sx={{
            display: 'grid',
            gap: 2,
            gridTemplateColumns: 'minmax(0, 1fr)',
            alignItems: 'start',
            '@container details (min-width: 760px)': { gridTemplateColumns: 'minmax(0, 1fr) 300px', '& > .details-side': { order: 2 } },
          }}
        >
          <Box sx={{ columns: '2 340px', columnGap: 1.5, order: 2, '& > section': { breakInside: 'avoid', mb: 1.5, display: 'block' } }}>
            <Section title="General" icon={<InfoOutlinedIcon />}>
              <Fields>
                <Field label="Name">{vm.name}</Field>
                <Field label="Operating system">{os?.label ?? config.osType}</Field>
                <Field label="Group">{config.group || <Muted>None</Muted>}</Field>
                <Field label="Description">{config.description ? <Box component="span" sx={{ whiteSpace: 'pre-wrap' }}>{config.description}</Box> : <Muted>None</Muted>}</Field>
                {vm.host !== undefined ? (
                  <Field label="Host">{vm.unreachable ? `${vm.host} (unreachable: ${vm.unreachable})` : vm.host}</Field>
                ) : (
                  <Field label="Folder" mono>
                    {vm.dir}
                  </Field>
                )}
                {vm.linkedTo.length > 0 && <Field label="Linked clone of">{vm.linkedTo.join(', ')}</Field>}
                {vm.linkedClones.length > 0 && <Field label="Linked clones">{`${vm.linkedClones.join(', ')} (they stand on its disks; delete them before it)`}</Field>}
                {(vm.config.autoSnapshot?.keep ?? 0) > 0 && <Field label="Automatic snapshots">{`Before each start, keeping the ${vm.config.autoSnapshot!.keep} newest`}</Field>}
              </Fields>
            </Section>
            <Section title="System" icon={<DeveloperBoardOutlinedIcon />}>
              <Fields>
                <Field label="Base memory">{formatMiB(config.memoryMiB)}</Field>
                <Field label="Processors">{config.cpus}</Field>
                <Field label="Firmware">{firmwareLabel(config.firmware)}</Field>
                {config.firmware === 'uefi' && <Field label="Secure Boot">{config.secureBoot ? 'On' : 'Off'}</Field>}
                {config.tpm && <Field label="TPM">2.0 (swtpm; its state is kept in the VM's folder)</Field>}
                <Field label="Chipset">{machineLabel(config.machine)}</Field>
                <Field label="Boot order">{config.bootOrder.length ? config.bootOrder.map(bootLabel).join(', ') : <Muted>Default</Muted>}</Field>
                {vm.runtime && <Field label="Acceleration">{vm.runtime.accel.toUpperCase()}</Field>}
                {vm.domain && (
                  <Field label="libvirt domain">{`${vm.domain.type}${vm.domain.arch ? `, ${vm.domain.arch}` : ''}${vm.domain.machine ? `, ${vm.domain.machine}` : ''}${vm.domain.persistent ? '' : ', transient'}`}</Field>
                )}
              </Fields>
            </Section>
            {(vm.resourceStatus?.length ?? 0) > 0 && (
              <Section title="Resources" icon={<SpeedOutlinedIcon />}>
                <Fields>
                  {vm.resourceStatus!.map((r) => (
                    <Field key={r.setting} label={RESOURCE_LABELS[r.setting]}>
                      <Box component="span" sx={{ display: 'block' }}>{resourceValue(vm, r.setting)}</Box>
                      <Box component="span" sx={{ color: r.enforced ? 'text.secondary' : 'warning.main', fontSize: '0.75rem' }} title={r.detail}>
                        {r.enforced ? 'enforced' : r.detail}
                      </Box>
                    </Field>
                  ))}
                </Fields>
              </Section>
            )}
            <Section title="Display" icon={<MonitorOutlinedIcon />}>
              <Fields>
                <Field label="Graphics">{displayLabel(config.display.adapter)}</Field>
                {vm.host === undefined && config.display.adapter !== 'none' && (
                  <Field label="Clipboard">{config.clipboard === false ? <Muted>Off</Muted> : 'Shared with the console (needs spice-vdagent in the guest)'}</Field>
                )}
              </Fields>
            </Section>
            <Section title="Storage" icon={<StorageOutlinedIcon />}>
              <Fields>
                {config.disks.map((d, i) => (
                  <Field key={d.id} label={`Disk ${i + 1}`}>
                    <Box component="span" sx={{ display: 'block' }}>{baseName(d.file)}</Box>
                    <Muted>
                      {formatLabel(d.format)} · {busLabel(d.bus)}
                      {d.readOnly ? ' · read-only' : ''}
                    </Muted>
                  </Field>
                ))}
                {config.cdroms.map((c, i) => (
                  <Field key={c.id} label={config.cdroms.length > 1 ? `CD/DVD ${i + 1}` : 'CD/DVD'}>
                    <Box component="span" sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.5 }}>
                      <AlbumOutlinedIcon sx={{ fontSize: 15, color: 'text.secondary' }} />
                      {c.iso ? <span title={c.iso}>{baseName(c.iso)}</span> : <Muted>Empty</Muted>}
                    </Box>
                  </Field>
                ))}
                {config.disks.length === 0 && config.cdroms.length === 0 && <Field label="Devices"><Muted>None</Muted></Field>}
                {config.disks.length === 0 && config.cdroms.length > 0 && <Field label="Hard disk"><Muted>None</Muted></Field>}
              </Fields>
            </Section>
            <Section title="Network" icon={<LanOutlinedIcon />}>
              <Fields>
                {config.nics.length === 0 ? (
                  <Field label="Adapters">
                    <Muted>None</Muted>
                  </Field>
                ) : (
                  config.nics.map((n, i) => (
                    <Field key={n.id} label={`Adapter ${i + 1}`}>
                      <Box component="span" sx={{ display: 'block' }}>
                        {nicModeLabel(n.mode)}
                        {n.mode === 'bridged' ? ` (${n.bridgeVia === 'tap' ? `tap ${n.tap ?? ''}` : (n.bridge ?? '')})` : n.mode === 'internal' ? ` ‘${n.network ?? ''}’` : ''} · {nicModelLabel(n.model)}
                      </Box>
                      {/* One line each: inline, the guest IP ran into the MAC ("10.0.2.1552:54:…"). */}
                      {n.mode === 'nat' && (
                        <Muted block>
                          {/* QEMU's DHCP gives the first guest address, .15, of the NAT subnet. */}
                          Guest IP {natGuestIp(n.natNetwork)}
                          {n.restrict ? ' · restricted' : ''}
                        </Muted>
                      )}
                      <Muted block>
                        MAC{' '}
                        <Box component="span" sx={{ fontFamily: 'monospace', fontSize: '0.78rem' }}>
                          {n.mac}
                        </Box>
                      </Muted>
                    </Field>
                  ))
                )}
              </Fields>
            </Section>
            {(config.shares?.length ?? 0) > 0 && (
              <Section title="Shared folders" icon={<FolderSharedOutlinedIcon />}>
                <Fields>
                  {(config.shares ?? []).map((s) => (
                    <Field key={s.tag} label={s.tag}>
                      <Box component="span" sx={{ display: 'block' }} title={s.path}>
                        {s.path}
                      </Box>
                      <Muted block>{s.readOnly ? 'Read-only' : 'Read-write'}</Muted>
                    </Field>
                  ))}
                </Fields>
              </Section>
            )}
            <Section title="Serial port" icon={<CableOutlinedIcon />}>
              <Fields>
                <Field label="Port 1">{config.serial.enabled ? 'Enabled' : <Muted>Disabled</Muted>}</Field>
                {config.serial.enabled && (
                  <Field label="Log" mono>
                    {vm.serialLog}
                  </Field>
                )}
              </Fields>
            </Section>
          </Box>

          <Box className="details-side" sx={{ display: 'grid', gap: 1.5, order: 1 }}>
            <Section title="Preview" icon={<TvOutlinedIcon />}>
              <Preview vm={vm} onOpen={onOpenConsole} />
            </Section>
            <Section title="Activity" icon={<HistoryOutlinedIcon />}>
              {events.length === 0 ? (
                <Muted>Nothing yet.</Muted>
              ) : (
                <Box component="ol" sx={{ listStyle: 'none', m: 0, p: 0, display: 'grid', gap: 0.75 }}>
                  {events.map((e) => (
                    <Box component="li" key={e.id} sx={{ display: 'grid', gridTemplateColumns: '10px 1fr', gap: 1, alignItems: 'baseline' }}>
                      <Box
                        aria-hidden
                        sx={{
                          width: 7,
                          height: 7,
                          borderRadius: '50%',
                          mt: '5px',
                          bgcolor: e.level === 'error' ? 'error.main' : e.level === 'warning' ? 'warning.main' : 'text.disabled',
                        }}
                      />
                      <Box sx={{ minWidth: 0 }}>
                        <Typography
                          variant="body2"
                          title={e.message.length > 120 ? e.message : undefined}
                          sx={{ overflowWrap: 'anywhere', lineHeight: 1.35, userSelect: 'text', display: '-webkit-box', WebkitLineClamp: 3, WebkitBoxOrient: 'vertical', overflow: 'hidden' }}
                        >
                          {e.message}
                        </Typography>
                        <Typography variant="caption" color="text.secondary">
                          {formatTime(e.ts)}
                        </Typography>
                      </Box>
                    </Box>
                  ))}
                </Box>
              )}
            </Section>
          </Box>
        </Box>
      </Box>
    </Box>
  );
}

function Muted({ children, mono, block }: { readonly children: ReactNode; readonly mono?: boolean; readonly block?: boolean }) {
  return (
    <Box component="span" sx={{ color: 'text.secondary', ...(block ? { display: 'block' } : {}), ...(mono ? { fontFamily: 'monospace', fontSize: '0.78rem' } : {}) }}>
      {children}
    </Box>
  );
}

/** Shown while the selected VM's info loads or when nothing is selected. */
export function NoSelection({ text }: { readonly text: string }) {
  return (
    <Box sx={{ flex: 1, display: 'grid', placeItems: 'center', p: 4 }}>
      <Paper variant="outlined" sx={{ px: 4, py: 3, textAlign: 'center', bgcolor: 'transparent', borderStyle: 'dashed' }}>
        <Typography variant="body2" color="text.secondary">
          {text}
        </Typography>
      </Paper>
    </Box>
  );
}
