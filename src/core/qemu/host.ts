/**
 * What this host can do: QEMU binaries and version, accelerators that really work, firmware.
 * `auto` never picks an accelerator that cannot run a 64-bit guest: /dev/kvm existing is not
 * enough (nested or restricted hosts expose it and then fail at vCPU setup), so KVM is
 * proven by starting a QEMU with it and watching it survive vCPU creation.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Accelerator, AcceleratorChoice, AcceleratorStatus } from '../api/contract';
import { NestboxError } from '../api/errors';
import { findUefiFirmware, type UefiFirmware } from './firmware';
import { findVirtiofsd } from './virtiofsd';

export interface QemuInstall {
  readonly binary: string;
  readonly imgBinary: string;
  readonly version: string;
  readonly major: number;
  readonly minor: number;
}

export interface HostCapabilities {
  readonly qemu: QemuInstall | null;
  readonly accelerators: readonly AcceleratorStatus[];
  readonly ovmf: { readonly code: string; readonly vars: string } | null;
  /**
   * UEFI with Secure Boot and enrolled keys, from QEMU's firmware descriptors; null when
   * the host has none (Debian/Ubuntu: the ovmf package ships it).
   */
  readonly secureBoot?: SecureBootFirmware | null;
  /** swtpm and swtpm_setup, for a TPM 2.0; null when not installed (Debian/Ubuntu: swtpm, swtpm-tools). */
  readonly swtpm?: SwtpmInstall | null;
  /**
   * virtiofsd, for shared folders through virtiofs; null when not installed (Debian 12:
   * qemu-system-common ships it in /usr/lib/qemu), and shares then use QEMU's own 9p.
   */
  readonly virtiofsd?: string | null;
  readonly memoryMiB: number;
  readonly cpus: number;
}

export interface SecureBootFirmware {
  readonly code: string;
  readonly codeFormat: 'raw' | 'qcow2';
  /** The variable store with the keys enrolled; copied (as qcow2) for each VM. */
  readonly vars: string;
  readonly varsFormat: 'raw' | 'qcow2';
  /** The firmware guards its variables in SMM: the machine needs smm=on and secure pflash. */
  readonly requiresSmm: boolean;
  readonly descriptor: string;
}

export interface SwtpmInstall {
  readonly swtpm: string;
  /** swtpm_setup (swtpm-tools) makes a TPM's first state; without it swtpm makes a blank one. */
  readonly setup: string | null;
}

export function findSwtpm(): SwtpmInstall | null {
  const swtpm = process.env['NESTBOX_SWTPM'] ?? which('swtpm');
  if (!swtpm) return null;
  return { swtpm, setup: process.env['NESTBOX_SWTPM_SETUP'] ?? which('swtpm_setup') };
}

function secureBootFrom(fw: UefiFirmware | null): SecureBootFirmware | null {
  if (!fw) return null;
  return {
    code: fw.code.filename,
    codeFormat: fw.code.format,
    vars: fw.varsTemplate.filename,
    varsFormat: fw.varsTemplate.format,
    requiresSmm: fw.features.includes('requires-smm'),
    descriptor: fw.descriptor,
  };
}

function which(name: string): string | null {
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter);
  if (process.platform === 'darwin') dirs.push('/opt/homebrew/bin', '/usr/local/bin');
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, process.platform === 'win32' ? `${name}.exe` : name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

function run(binary: string, args: string[], timeoutMs = 10_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export async function findQemu(): Promise<QemuInstall | null> {
  const binary = process.env['NESTBOX_QEMU'] ?? which('qemu-system-x86_64');
  const imgBinary = process.env['NESTBOX_QEMU_IMG'] ?? which('qemu-img');
  if (!binary || !imgBinary) return null;
  const r = await run(binary, ['-version']);
  const m = /version (\d+)\.(\d+)\.(\d+)/.exec(r.stdout);
  if (r.code !== 0 || !m) return null;
  return { binary, imgBinary, version: `${m[1]}.${m[2]}.${m[3]}`, major: Number(m[1]), minor: Number(m[2]) };
}

const OVMF_CANDIDATES: readonly (readonly [string, string])[] = [
  ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd'],
  ['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd'],
  ['/usr/share/edk2/ovmf/OVMF_CODE.fd', '/usr/share/edk2/ovmf/OVMF_VARS.fd'],
  ['/usr/share/edk2/x64/OVMF_CODE.fd', '/usr/share/edk2/x64/OVMF_VARS.fd'],
  ['/opt/homebrew/share/qemu/edk2-x86_64-code.fd', '/opt/homebrew/share/qemu/edk2-i386-vars.fd'],
  ['/usr/local/share/qemu/edk2-x86_64-code.fd', '/usr/local/share/qemu/edk2-i386-vars.fd'],
];

/**
 * Plain UEFI (no Secure Boot): from the firmware descriptors when the host has any; the
 * well-known paths are only a fallback for hosts whose QEMU ships no descriptors.
 */
export function findOvmf(plain: UefiFirmware | null = findUefiFirmware().plain): { code: string; vars: string } | null {
  const forced = process.env['NESTBOX_OVMF_CODE'];
  if (forced) {
    const vars = process.env['NESTBOX_OVMF_VARS'];
    return vars && fs.existsSync(forced) && fs.existsSync(vars) ? { code: forced, vars } : null;
  }
  if (plain && plain.code.format === 'raw' && plain.varsTemplate.format === 'raw') return { code: plain.code.filename, vars: plain.varsTemplate.filename };
  for (const [code, vars] of OVMF_CANDIDATES) {
    if (fs.existsSync(code) && fs.existsSync(vars)) return { code, vars };
  }
  return null;
}

/**
 * Starts QEMU with KVM and a full CPU model, stopped, and asks it over QMP (on stdio) whether
 * KVM is enabled. Hosts whose KVM cannot run a 64-bit guest fail here at vCPU creation
 * (e.g. "failed to set MSR", an assertion abort) instead of minutes later in the user's VM.
 */
export function probeKvm(binary: string, timeoutMs = 8000): Promise<AcceleratorStatus> {
  if (process.platform !== 'linux') return Promise.resolve({ name: 'kvm', usable: false, reason: 'KVM exists only on Linux' });
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    const exists = fs.existsSync('/dev/kvm');
    return Promise.resolve({
      name: 'kvm',
      usable: false,
      reason: exists
        ? `/dev/kvm is not accessible to this user (${(err as Error).message}); add the user to the 'kvm' group`
        : '/dev/kvm does not exist (virtualization disabled in firmware, or the kvm module is not loaded)',
    });
  }
  return new Promise((resolve) => {
    const child = spawn(
      binary,
      ['-accel', 'kvm', '-cpu', 'host', '-machine', 'q35', '-m', '64', '-nodefaults', '-no-user-config', '-display', 'none', '-S', '-qmp', 'stdio'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    // QEMU may exit (KVM refused) before our commands reach it: a write to its closed stdin
    // is not an error of ours, and unhandled it would crash the whole process with EPIPE.
    child.stdin.on('error', () => undefined);
    let out = '';
    let err = '';
    let sentCommands = false;
    let enabled = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sentCommands && out.includes('"QMP"')) {
        sentCommands = true;
        child.stdin.write('{"execute":"qmp_capabilities"}\n{"execute":"query-kvm","id":"kvm"}\n');
      }
      if (/"id":\s*"kvm"/.test(out) && !enabled) {
        enabled = /"enabled":\s*true/.test(out);
        child.stdin.write('{"execute":"quit"}\n');
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ name: 'kvm', usable: false, reason: `could not run ${binary}: ${e.message}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && enabled) return resolve({ name: 'kvm', usable: true });
      const lines = err.trim().split('\n').filter(Boolean).map((l) => l.replace(/^[^:]*qemu-system[^:]*:\s*/, ''));
      const why = lines.find((l) => /error/i.test(l))?.replace(/^error:\s*/, '') ?? lines[0] ?? (signal ? `QEMU was killed by ${signal}` : `QEMU exited with code ${code}`);
      resolve({ name: 'kvm', usable: false, reason: `KVM cannot run a 64-bit guest on this host: ${why}` });
    });
  });
}

export async function probeHost(): Promise<HostCapabilities> {
  const qemu = await findQemu();
  const accelerators: AcceleratorStatus[] = [];
  if (qemu) {
    accelerators.push(await probeKvm(qemu.binary));
    accelerators.push({ name: 'hvf', usable: false, reason: process.platform === 'darwin' ? 'HVF support is not implemented yet' : 'HVF exists only on macOS' });
    accelerators.push({ name: 'whpx', usable: false, reason: process.platform === 'win32' ? 'WHPX support is not implemented yet' : 'WHPX exists only on Windows' });
    accelerators.push({ name: 'tcg', usable: true });
  }
  const uefi = findUefiFirmware();
  return {
    qemu,
    accelerators,
    ovmf: findOvmf(uefi.plain),
    secureBoot: process.env['NESTBOX_OVMF_CODE'] ? null : secureBootFrom(uefi.secure),
    swtpm: findSwtpm(),
    virtiofsd: virtiofsdFromEnv(),
    memoryMiB: Math.floor(os.totalmem() / (1024 * 1024)),
    cpus: os.cpus().length,
  };
}

/** NESTBOX_VIRTIOFSD names the binary, or `none` to use 9p as on a host without it. */
function virtiofsdFromEnv(): string | null {
  const env = process.env['NESTBOX_VIRTIOFSD'];
  if (env === 'none') return null;
  return env || findVirtiofsd();
}

export function parseAccelChoice(v: string | undefined): AcceleratorChoice | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'auto' || v === 'kvm' || v === 'hvf' || v === 'whpx' || v === 'tcg') return v;
  throw new NestboxError('INVALID_ARGUMENT', `unknown accelerator '${v}' (use auto, kvm, hvf, whpx or tcg)`);
}

/**
 * Resolves the choice to an accelerator. `auto` prefers hardware and falls back to TCG with
 * a note; a forced accelerator that cannot work is an error, not a silent fallback.
 */
export function resolveAccelerator(
  choice: AcceleratorChoice,
  accels: readonly AcceleratorStatus[],
): { accel: Accelerator; note?: string } {
  const status = (n: Accelerator) => accels.find((a) => a.name === n);
  if (choice !== 'auto') {
    const s = status(choice);
    if (!s || !s.usable) {
      throw new NestboxError('HOST_UNSUPPORTED', `accelerator '${choice}' was forced but cannot be used: ${s?.reason ?? 'QEMU was not found'}`);
    }
    return { accel: choice };
  }
  for (const n of ['kvm', 'hvf', 'whpx'] as const) {
    if (status(n)?.usable) return { accel: n };
  }
  if (!status('tcg')?.usable) throw new NestboxError('HOST_UNSUPPORTED', 'QEMU was not found, so no accelerator is available');
  const hw = accels.filter((a) => a.name !== 'tcg' && a.reason && !a.reason.includes('exists only on'));
  const note = hw.length
    ? `using TCG software emulation (slow): ${hw.map((a) => a.reason).join('; ')}`
    : 'using TCG software emulation (slow): no hardware accelerator on this host';
  return { accel: 'tcg', note };
}
