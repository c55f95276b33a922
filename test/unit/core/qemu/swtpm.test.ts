/**
 * The swtpm invocation of a VM with a TPM against a golden file (one argv element per line;
 * UPDATE_GOLDENS=1 rewrites it), and the first-state swtpm_setup call.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tpmSocket } from '../../../../src/core/qemu/argv';
import { buildSwtpmArgv, buildSwtpmSetupArgv, hasTpmState, tpmStateDir } from '../../../../src/core/qemu/swtpm';
import { vmFiles } from '../../../../src/core/store/paths';

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'golden', 'swtpm', 'windows-11-preset.swtpm');
const VM_DIR = '/home/ada/.local/share/nestbox/machines/Windows 11';
const RUN_DIR = '/run/user/1000/nestbox/3f2a1b0c9d/0b3c9f2e';
const PATHS = { stateDir: tpmStateDir(VM_DIR), runDir: RUN_DIR, logFile: vmFiles(VM_DIR).swtpmLog };

describe('buildSwtpmArgv', () => {
  it('matches the golden invocation of the Windows 11 preset', () => {
    const actual = ['swtpm', ...buildSwtpmArgv(PATHS)].join('\n') + '\n';
    if (process.env['UPDATE_GOLDENS'] === '1') {
      fs.mkdirSync(path.dirname(GOLDEN), { recursive: true });
      fs.writeFileSync(GOLDEN, actual);
    }
    expect(actual).toBe(fs.readFileSync(GOLDEN, 'utf8'));
  });

  it('serves the control socket QEMU connects to, keeps state in the VM folder and ends with QEMU', () => {
    const argv = buildSwtpmArgv(PATHS);
    expect(argv.slice(0, 2)).toEqual(['socket', '--tpm2']);
    expect(argv).toContain(`type=unixio,path=${tpmSocket(RUN_DIR)},mode=0600`);
    expect(argv).toContain(`dir=${VM_DIR}/tpm,mode=0600`);
    expect(argv).toContain('--terminate');
  });

  it('doubles commas in paths, as swtpm option lists need', () => {
    const argv = buildSwtpmArgv({ stateDir: '/vms/a,b/tpm', runDir: '/run/x,y', logFile: '/vms/a,b/logs/swtpm.log' });
    expect(argv).toContain('dir=/vms/a,,b/tpm,mode=0600');
    expect(argv).toContain('type=unixio,path=/run/x,,y/swtpm.sock,mode=0600');
  });
});

describe('buildSwtpmSetupArgv', () => {
  it('makes a TPM 2.0 first state with an endorsement key and never overwrites one', () => {
    expect(buildSwtpmSetupArgv(PATHS)).toEqual([
      '--tpm2', '--tpmstate', `${VM_DIR}/tpm`, '--createek', '--pcr-banks', 'sha256', '--not-overwrite', '--logfile', `${VM_DIR}/logs/swtpm.log`,
    ]);
  });
});

describe('hasTpmState', () => {
  it('is false for a missing or empty folder and true once swtpm wrote its state file', () => {
    const dir = fs.mkdtempSync('/tmp/nestbox-tpm-');
    try {
      expect(hasTpmState(path.join(dir, 'none'))).toBe(false);
      expect(hasTpmState(dir)).toBe(false);
      fs.writeFileSync(path.join(dir, 'tpm2-00.permall'), 'x');
      expect(hasTpmState(dir)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
