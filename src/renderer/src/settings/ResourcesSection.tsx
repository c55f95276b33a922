/**
 * Settings → Resources: what the VM gets of the host and how it competes for it — CPU
 * priority (shares), a CPU limit, pinning, the memory balloon (its target set live), a
 * memory ceiling, page sharing and the CPU topology. Each setting shows whether this host
 * enforces it, and why not when it does not.
 */
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormGroup from '@mui/material/FormGroup';
import FormHelperText from '@mui/material/FormHelperText';
import FormLabel from '@mui/material/FormLabel';
import InputLabel from '@mui/material/InputLabel';
import MenuItem from '@mui/material/MenuItem';
import Select from '@mui/material/Select';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { HostInfo, VmInfo } from '../../../core/api/contract';
import type { ResourceDraft } from './resources';
import { useVmActions } from '../actions/useVmActions';

const PRIORITIES: readonly { readonly label: string; readonly value: string }[] = [
  { label: 'Default', value: '' },
  { label: 'Low (25)', value: '25' },
  { label: 'Normal (100)', value: '100' },
  { label: 'High (400)', value: '400' },
];

export function ResourcesSection({ vm, host, draft, onChange, offlineEditable }: {
  readonly vm: VmInfo;
  readonly host: HostInfo;
  readonly draft: ResourceDraft;
  readonly onChange: (d: ResourceDraft) => void;
  /** Devices and topology change only while powered off. */
  readonly offlineEditable: boolean;
}) {
  const vmActions = useVmActions();
  const set = <K extends keyof ResourceDraft>(k: K, v: ResourceDraft[K]) => onChange({ ...draft, [k]: v });
  const running = vm.runtime !== null;
  const [target, setTarget] = useState(String(vm.memoryMiB));
  const [balloonMsg, setBalloonMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const status = vm.resourceStatus ?? [];
  const custom = !PRIORITIES.some((p) => p.value === draft.cpuShares);

  return (
    <>
      <Typography variant="body2" color="text.secondary">
        CPU priority, limit, pinning and the memory ceiling apply at once, even while the VM runs. They are enforced with Linux control groups
        {host.cgroups ? ` (cgroup ${host.cgroups.version})` : ''} where the host allows it.
      </Typography>
      <Stack direction="row" spacing={2}>
        <FormControl sx={{ minWidth: 180 }}>
          <InputLabel id="res-prio-label">CPU priority</InputLabel>
          <Select labelId="res-prio-label" label="CPU priority" value={custom ? 'custom' : draft.cpuShares} onChange={(e) => set('cpuShares', e.target.value === 'custom' ? draft.cpuShares || '100' : e.target.value)}>
            {PRIORITIES.map((p) => (
              <MenuItem key={p.label} value={p.value}>{p.label}</MenuItem>
            ))}
            <MenuItem value="custom">Custom…</MenuItem>
          </Select>
          <FormHelperText>Shares relative to other VMs under contention</FormHelperText>
        </FormControl>
        {custom && <TextField label="Shares" value={draft.cpuShares} onChange={(e) => set('cpuShares', e.target.value)} sx={{ width: 120 }} />}
        <TextField
          label="CPU limit (% of host)"
          value={draft.cpuLimitPct}
          onChange={(e) => set('cpuLimitPct', e.target.value)}
          placeholder="none"
          helperText="Empty: no limit"
          sx={{ width: 180 }}
          slotProps={{ htmlInput: { inputMode: 'numeric', 'aria-label': 'CPU limit (% of host)' } }}
        />
      </Stack>
      <FormControl component="fieldset">
        <FormLabel component="legend">Run only on host CPUs</FormLabel>
        <FormGroup row>
          {Array.from({ length: host.cpus }, (_, i) => (
            <FormControlLabel
              key={i}
              label={`CPU ${i}`}
              control={
                <Checkbox
                  size="small"
                  checked={draft.pinCpus.includes(i)}
                  onChange={(e) => set('pinCpus', e.target.checked ? [...draft.pinCpus, i] : draft.pinCpus.filter((c) => c !== i))}
                />
              }
            />
          ))}
        </FormGroup>
        <FormHelperText>None ticked: any CPU</FormHelperText>
      </FormControl>
      <TextField
        label="Memory ceiling (MiB)"
        value={draft.memoryMaxMiB}
        onChange={(e) => set('memoryMaxMiB', e.target.value)}
        placeholder="none"
        helperText="A hard limit on the QEMU process (guest RAM plus QEMU's own); empty for none"
        sx={{ maxWidth: 320 }}
      />
      <Box>
        <FormControlLabel
          control={<Switch checked={draft.balloon} onChange={(e) => set('balloon', e.target.checked)} disabled={!offlineEditable} />}
          label="Memory balloon (virtio-balloon): reclaim memory from the running guest"
        />
        {running && vm.config.resources?.balloon && (
          <Stack direction="row" spacing={1} alignItems="center" sx={{ mt: 1 }}>
            <TextField size="small" label="Guest keeps (MiB)" value={target} onChange={(e) => setTarget(e.target.value)} sx={{ width: 170 }} />
            <Button
              size="small"
              variant="outlined"
              onClick={() => {
                setBalloonMsg(null);
                vmActions.balloon({ ref: vm.uuid, targetMiB: Number(target) }).then(
                  () => setBalloonMsg({ ok: true, text: `The guest now keeps ${target} MiB of ${vm.memoryMiB} MiB.` }),
                  (err: unknown) => setBalloonMsg({ ok: false, text: (err as Error).message }),
                );
              }}
            >
              Set balloon
            </Button>
            {balloonMsg && (
              <Typography variant="caption" color={balloonMsg.ok ? 'success.main' : 'error'} role="status">
                {balloonMsg.text}
              </Typography>
            )}
          </Stack>
        )}
      </Box>
      <Stack direction="row" spacing={2}>
        <FormControl sx={{ minWidth: 240 }} disabled={!offlineEditable}>
          <InputLabel id="res-ksm-label">Page sharing (KSM)</InputLabel>
          <Select labelId="res-ksm-label" label="Page sharing (KSM)" value={draft.memMerge} onChange={(e) => set('memMerge', e.target.value as ResourceDraft['memMerge'])}>
            <MenuItem value="default">QEMU default (mergeable)</MenuItem>
            <MenuItem value="on">Mergeable</MenuItem>
            <MenuItem value="off">Never share</MenuItem>
          </Select>
          <FormHelperText>
            Host KSM: {host.ksm ? (host.ksm.available ? (host.ksm.running ? 'on' : 'off') : 'not available') : 'unknown'}
          </FormHelperText>
        </FormControl>
        {(['sockets', 'cores', 'threads'] as const).map((k) => (
          <TextField key={k} label={k[0]!.toUpperCase() + k.slice(1)} value={draft[k]} onChange={(e) => set(k, e.target.value)} disabled={!offlineEditable} placeholder="1" sx={{ width: 100 }} />
        ))}
      </Stack>
      {!offlineEditable && <Alert severity="info" role="note">The balloon device, page sharing and the CPU topology can change only while the VM is powered off.</Alert>}
      {status.length > 0 && (
        <Box aria-label="Enforcement">
          <Typography variant="subtitle2" component="h3" sx={{ mb: 0.5 }}>Enforcement on this host</Typography>
          {status.map((s) => (
            <Typography key={s.setting} variant="body2" color={s.enforced ? 'text.secondary' : 'warning.main'}>
              {s.setting}: {s.detail}
            </Typography>
          ))}
        </Box>
      )}
    </>
  );
}
