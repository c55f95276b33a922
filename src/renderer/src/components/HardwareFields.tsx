/**
 * Memory, CPU and firmware controls shared by the wizard and Settings. Each slider has a
 * typed twin or readout, is bounded by the host, and says out loud when a value would
 * starve the host or overcommit it together with the VMs already running.
 */
import { useEffect, useId, useState } from 'react';
import Box from '@mui/material/Box';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormHelperText from '@mui/material/FormHelperText';
import FormLabel from '@mui/material/FormLabel';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import Slider from '@mui/material/Slider';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useTheme } from '@mui/material/styles';
import type { Firmware } from '../model/labels';
import { formatMiB } from '../util/format';
import { MIN_MEMORY_MIB, memoryProblem, parseWhole } from '../util/validation';

/** Warnings (not errors) about a memory size; the core admits overcommit but says so too. */
export function memoryWarnings(mib: number, hostMiB: number, othersRunningMiB: number): readonly string[] {
  const out: string[] = [];
  if (!Number.isFinite(mib)) return out;
  if (mib > hostMiB / 2) out.push(`This is more than half of the host’s memory (${formatMiB(hostMiB)}); the host may become slow.`);
  if (othersRunningMiB > 0 && mib + othersRunningMiB > hostMiB) {
    out.push(`With the VMs already running (${formatMiB(othersRunningMiB)}), this would overcommit the host’s memory.`);
  }
  return out;
}

export function MemoryField({
  value,
  onChange,
  hostMiB,
  othersRunningMiB,
  disabled = false,
}: {
  readonly value: number;
  readonly onChange: (mib: number) => void;
  readonly hostMiB: number;
  readonly othersRunningMiB: number;
  readonly disabled?: boolean;
}) {
  const headingId = useId();
  const theme = useTheme();
  // The field keeps its own text so "" or "10" can be typed on the way to "1024".
  const [text, setText] = useState(Number.isFinite(value) ? String(value) : '');
  useEffect(() => {
    setText((t) => (parseWhole(t) === value ? t : Number.isFinite(value) ? String(value) : t));
  }, [value]);
  const problem = memoryProblem(value, hostMiB);
  const warnings = problem ? [] : memoryWarnings(value, hostMiB, othersRunningMiB);
  const half = 50;
  const freePct = Math.max(0, Math.min(100, ((hostMiB - othersRunningMiB) / hostMiB) * 100));
  const { stateColors } = theme.palette;

  return (
    <Box>
      <Typography id={headingId} variant="subtitle2" component="h3" sx={{ mb: 0.5, color: disabled ? 'text.disabled' : 'text.primary' }}>
        Memory
      </Typography>
      <Box sx={{ display: 'flex', gap: 2.5, alignItems: 'flex-start' }}>
        <Box sx={{ flex: 1, pt: 0.5, px: 1 }}>
          <Slider
            aria-labelledby={headingId}
            value={Number.isFinite(value) ? Math.min(Math.max(value, MIN_MEMORY_MIB), hostMiB) : MIN_MEMORY_MIB}
            min={MIN_MEMORY_MIB}
            max={hostMiB}
            step={16}
            shiftStep={256}
            disabled={disabled}
            onChange={(_, v) => onChange(v)}
            getAriaValueText={(v) => formatMiB(v)}
            valueLabelDisplay="auto"
            valueLabelFormat={(v) => formatMiB(v)}
          />
          <Box
            aria-hidden
            sx={{
              height: 4,
              mt: -0.5,
              borderRadius: 2,
              opacity: disabled ? 0.35 : 0.75,
              background: `linear-gradient(to right, ${stateColors.success} 0%, ${stateColors.success} ${half}%, ${stateColors.warning} ${half}%, ${stateColors.warning} ${Math.max(half, freePct)}%, ${stateColors.error} ${Math.max(half, freePct)}%, ${stateColors.error} 100%)`,
            }}
          />
          <Box sx={{ display: 'flex', justifyContent: 'space-between', mt: 0.5 }}>
            <Typography variant="caption" color="text.secondary">
              {MIN_MEMORY_MIB} MiB
            </Typography>
            <Typography variant="caption" color="text.secondary">
              {formatMiB(hostMiB)}
            </Typography>
          </Box>
        </Box>
        <TextField
          label="Memory (MiB)"
          type="number"
          value={text}
          disabled={disabled}
          onChange={(e) => {
            setText(e.target.value);
            onChange(parseWhole(e.target.value));
          }}
          error={problem !== null}
          slotProps={{ htmlInput: { min: MIN_MEMORY_MIB, max: hostMiB, step: 16 } }}
          sx={{ width: 150, flex: 'none' }}
        />
      </Box>
      {problem && (
        <FormHelperText error role="alert">
          {problem}
        </FormHelperText>
      )}
      {warnings.map((w) => (
        <FormHelperText key={w} sx={{ color: 'warning.main' }}>
          {w}
        </FormHelperText>
      ))}
    </Box>
  );
}

export function CpuField({
  value,
  onChange,
  hostCpus,
  disabled = false,
}: {
  readonly value: number;
  readonly onChange: (n: number) => void;
  readonly hostCpus: number;
  readonly disabled?: boolean;
}) {
  const headingId = useId();
  const marks = hostCpus <= 16 ? Array.from({ length: hostCpus }, (_, i) => ({ value: i + 1 })) : [{ value: 1 }, { value: hostCpus }];
  return (
    <Box>
      <Typography id={headingId} variant="subtitle2" component="h3" sx={{ mb: 0.5, color: disabled ? 'text.disabled' : 'text.primary' }}>
        CPUs
      </Typography>
      <Box sx={{ display: 'flex', gap: 2.5, alignItems: 'center' }}>
        <Box sx={{ flex: 1, px: 1 }}>
          <Slider
            aria-label="CPUs"
            value={Math.min(Math.max(value, 1), Math.max(1, hostCpus))}
            min={1}
            max={Math.max(1, hostCpus)}
            step={1}
            marks={marks}
            disabled={disabled || hostCpus <= 1}
            onChange={(_, v) => onChange(v)}
            valueLabelDisplay="auto"
          />
          <Box sx={{ display: 'flex', justifyContent: 'space-between' }}>
            <Typography variant="caption" color="text.secondary">
              1 CPU
            </Typography>
            <Typography variant="caption" color="text.secondary">
              {hostCpus} CPUs
            </Typography>
          </Box>
        </Box>
        <Box
          aria-hidden
          sx={{
            width: 150,
            flex: 'none',
            textAlign: 'center',
            py: 0.75,
            borderRadius: 1,
            border: 1,
            borderColor: 'divider',
            fontWeight: 600,
            color: disabled ? 'text.disabled' : 'text.primary',
          }}
        >
          {value} {value === 1 ? 'CPU' : 'CPUs'}
        </Box>
      </Box>
      {value > hostCpus && <FormHelperText error>The host has only {hostCpus} CPUs.</FormHelperText>}
    </Box>
  );
}

export function FirmwareField({
  value,
  onChange,
  uefiPath,
  disabled = false,
}: {
  readonly value: Firmware;
  readonly onChange: (f: Firmware) => void;
  /** host.info firmware.uefi: where OVMF is, or null when it is not installed. */
  readonly uefiPath: string | null;
  readonly disabled?: boolean;
}) {
  const labelId = useId();
  return (
    <FormControl disabled={disabled}>
      <FormLabel id={labelId} sx={{ fontSize: '0.8rem', fontWeight: 600, color: 'text.primary', mb: 0.25 }}>
        Firmware
      </FormLabel>
      <RadioGroup row aria-labelledby={labelId} value={value} onChange={(e) => onChange(e.target.value === 'uefi' ? 'uefi' : 'bios')}>
        <FormControlLabel value="bios" control={<Radio />} label="BIOS" />
        <FormControlLabel value="uefi" control={<Radio />} label="UEFI" disabled={disabled || uefiPath === null} />
      </RadioGroup>
      <FormHelperText sx={{ mt: 0 }}>
        {uefiPath === null
          ? 'UEFI is unavailable: the OVMF firmware is not installed on this host (on Debian/Ubuntu: the “ovmf” package).'
          : 'UEFI is needed by Windows 11 and by some recent Linux installers; BIOS suits older systems.'}
      </FormHelperText>
    </FormControl>
  );
}
