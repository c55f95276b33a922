/**
 * Secure Boot and TPM 2.0 switches, shared by the New VM wizard and Settings. Each says
 * why it cannot be used on this host (the package to install) instead of vanishing.
 */
import FormControlLabel from '@mui/material/FormControlLabel';
import FormHelperText from '@mui/material/FormHelperText';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import type { Firmware } from '../model/labels';

export function SecurityFields({
  firmware,
  secureBoot,
  tpm,
  onSecureBoot,
  onTpm,
  secureBootFirmware,
  swtpm,
  disabled = false,
}: {
  readonly firmware: Firmware;
  readonly secureBoot: boolean;
  readonly tpm: boolean;
  readonly onSecureBoot: (on: boolean) => void;
  readonly onTpm: (on: boolean) => void;
  /** host.info firmware.secureBoot: the Secure Boot firmware, or null when the host has none. */
  readonly secureBootFirmware: string | null;
  /** host.info swtpm: null when swtpm is not installed. */
  readonly swtpm: string | null;
  readonly disabled?: boolean;
}) {
  const sbAvailable = secureBootFirmware !== null && firmware === 'uefi';
  return (
    <Stack spacing={0.5}>
      <FormControlLabel
        control={<Switch checked={firmware === 'uefi' && secureBoot} onChange={(e) => onSecureBoot(e.target.checked)} disabled={disabled || !sbAvailable} />}
        label="Secure Boot"
      />
      <FormHelperText sx={{ mt: 0 }}>
        {secureBootFirmware === null
          ? 'Secure Boot is unavailable: no UEFI firmware with Secure Boot is installed on this host (on Debian/Ubuntu: the “ovmf” package).'
          : firmware !== 'uefi'
            ? 'Secure Boot needs UEFI firmware.'
            : 'Only signed boot loaders start (Windows, and Linux distributions with a signed shim). Changing it gives the VM a fresh set of UEFI variables.'}
      </FormHelperText>
      <FormControlLabel control={<Switch checked={tpm} onChange={(e) => onTpm(e.target.checked)} disabled={disabled || swtpm === null} />} label="TPM 2.0" />
      <FormHelperText sx={{ mt: 0 }}>
        {swtpm === null
          ? 'A TPM is unavailable: swtpm is not installed on this host (on Debian/Ubuntu: the “swtpm” and “swtpm-tools” packages).'
          : 'Windows 11 needs a TPM 2.0. Its state is kept in the VM’s folder and travels with snapshots, saved states and clones.'}
      </FormHelperText>
    </Stack>
  );
}
