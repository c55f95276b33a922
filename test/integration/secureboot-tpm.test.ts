/**
 * Secure Boot and TPM 2.0 against real QEMU (TCG), OVMF's Secure Boot firmware and swtpm,
 * with the Secure Boot test guest (test/guest/build-secureboot.sh): Debian's signed shim,
 * GRUB and kernel, whose initramfs reports Secure Boot, the TPM and a value kept in TPM NV
 * index 0x01500001 at every boot. One VM is booted and shared (TCG is slow): its second
 * boot is the power cycle, its clone's boot proves the copy, and a restore from a live
 * snapshot resumes without a boot. A second VM boots the same chain with an unsigned kernel
 * only as far as GRUB's refusal.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../src/core/api/contract';
import { SWTPM_FILES } from '../../src/core/qemu/argv';
import { processArgv, readPidfile } from '../../src/core/qemu/supervisor';
import { DataLayout } from '../../src/core/store/paths';
import { daemon, stopDaemon, type Daemon } from '../support/daemon';
import { waitUntil } from '../support/waits';
import { cleanupHome, pidAlive, ROOT, SerialSession, tempHome, waitForFile, waitForState } from './helpers';

const NAME = 'sb-tpm';
const VALUE = '0123456789abcdef';
const READY = /NESTBOX-GUEST-READY/;

function sbIso(): string {
  const forced = process.env['NESTBOX_TEST_SB_ISO'];
  if (forced) return forced;
  const out = execFileSync('bash', ['test/guest/build-secureboot.sh'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 })
    .toString()
    .trim()
    .split('\n')
    .pop()!;
  if (!fs.existsSync(out)) throw new Error(`test/guest/build-secureboot.sh did not produce an ISO (said: ${out})`);
  return readableByQemuUser(out);
}

/**
 * As root, QEMU runs as an unprivileged user that cannot reach the build cache under /root:
 * the ISOs (signed and unsigned, side by side) are copied to a folder it can read.
 */
function readableByQemuUser(iso: string): string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return iso;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-sb-iso-'));
  fs.chmodSync(dir, 0o755);
  for (const f of [path.basename(iso), 'nestbox-sb-unsigned.iso']) {
    const src = path.join(path.dirname(iso), f);
    if (!fs.existsSync(src)) continue;
    fs.copyFileSync(src, path.join(dir, f));
    fs.chmodSync(path.join(dir, f), 0o644);
  }
  return path.join(dir, path.basename(iso));
}

/** The lines a boot of the test guest reported, from its `count`-th READY marker's boot. */
async function bootReport(serialLog: string, count: number): Promise<string> {
  const text = await waitForFile(serialLog, READY, 240_000, count);
  const boots = text.split(/NESTBOX-GUEST-READY/);
  return boots[count - 1]!.slice(-2000);
}

function swtpmPid(home: string, info: VmInfo): number | null {
  return readPidfile(path.join(new DataLayout(home).vmRunDir(info.uuid), SWTPM_FILES.pidfile));
}

describe('Secure Boot and TPM 2.0 with a signed Debian boot chain', () => {
  let home: string;
  let d: Daemon;
  let iso: string;
  let info: VmInfo;
  let tpmPid: number;

  beforeAll(async () => {
    iso = sbIso();
    home = tempHome();
    d = await daemon(home);
  }, 620_000);
  afterAll(async () => {
    if (d) await stopDaemon(d).catch(() => undefined);
    if (home) await cleanupHome(home);
  });

  it('gives the Windows 11 and Server presets Secure Boot, a TPM 2.0, SATA and e1000e', async () => {
    for (const osType of ['windows-11', 'windows-server-2022', 'windows-server-2025']) {
      const r = await d.client.call('vms.create', { name: `w-${osType}`, osType, memoryMiB: 256, cpus: 1, diskSize: '16M' });
      // The tiny test VM is below Windows' minimums, which are warnings; nothing else may be.
      expect((r.warnings ?? []).filter((w) => !/this OS needs/.test(w))).toEqual([]);
      expect(r.vm.config).toMatchObject({ firmware: 'uefi', secureBoot: true, tpm: true, machine: 'q35' });
      expect(r.vm.config.disks[0]!.bus).toBe('sata');
      expect(r.vm.config.nics[0]!.model).toBe('e1000e');
      await d.client.call('vms.delete', { ref: r.vm.uuid });
    }
    const w10 = await d.client.call('vms.create', { name: 'w10', osType: 'windows-10', memoryMiB: 256, cpus: 1, diskSize: '16M', tpm: true });
    expect(w10.vm.config.tpm).toBe(true);
    await d.client.call('vms.delete', { ref: w10.vm.uuid });
  });

  it('boots the signed chain with Secure Boot on and a TPM 2.0 whose swtpm the core started', async () => {
    const r = await d.client.call('vms.create', {
      name: NAME, osType: 'linux-debian', memoryMiB: 512, cpus: 1, noDisk: false, diskSize: '16M', firmware: 'uefi', secureBoot: true, tpm: true, iso, display: 'none',
    });
    info = r.vm;
    await d.client.call('vms.start', { ref: NAME });
    const report = await bootReport(info.serialLog, 1);
    expect(report).toMatch(/NESTBOX-SB 1\b/);
    expect(report).toMatch(/NESTBOX-TPM 2\b/);
    expect(report).toMatch(/NESTBOX-TPM-VALUE none/);
    tpmPid = swtpmPid(home, info)!;
    expect(pidAlive(tpmPid)).toBe(true);
    expect(processArgv(tpmPid)).toEqual(expect.arrayContaining(['socket', '--tpm2', `dir=${path.join(info.dir, 'tpm')},mode=0600`]));
    expect(fs.readdirSync(path.join(info.dir, 'tpm')).some((f) => f.startsWith('tpm2-'))).toBe(true);
  }, 300_000);

  it('keeps a value stored in the TPM across a core kill: the guest runs on and its TPM answers after re-attach', async () => {
    // A live snapshot first: the value does not exist yet in it.
    await d.client.call('snapshots.take', { ref: NAME, name: 'before-value' });
    let serial = await SerialSession.open(d.client, NAME);
    expect(await serial.run(`tpm-set ${VALUE}`, /NESTBOX-TPM-SET define=\w+ write=00000000/, 60_000)).toMatch(/define=00000000/);
    expect(await serial.run('tpm-get', /NESTBOX-TPM-VALUE \S+/, 60_000)).toContain(`NESTBOX-TPM-VALUE ${VALUE}`);
    await serial.close();

    const qemuPid = (await d.client.call('vms.info', { ref: NAME })).runtime!.pid;
    d.child.kill('SIGKILL');
    await d.exited;
    expect(pidAlive(qemuPid)).toBe(true);
    expect(pidAlive(tpmPid)).toBe(true);
    d = await daemon(home);
    expect((await d.client.call('vms.info', { ref: NAME })).state).toBe('running');
    serial = await SerialSession.open(d.client, NAME);
    expect(await serial.run('tpm-get', /NESTBOX-TPM-VALUE \S+/, 60_000)).toContain(`NESTBOX-TPM-VALUE ${VALUE}`);
    await serial.close();
    expect(swtpmPid(home, info)).toBe(tpmPid);
  }, 300_000);

  it('keeps the value across a power cycle, and swtpm stops with the VM', async () => {
    await d.client.call('vms.powerOff', { ref: NAME });
    await waitUntil(() => !pidAlive(tpmPid), 'swtpm to end with its VM', 10_000);
    await d.client.call('vms.start', { ref: NAME });
    const report = await bootReport(info.serialLog, 2);
    expect(report).toMatch(/NESTBOX-SB 1\b/);
    expect(report).toContain(`NESTBOX-TPM-VALUE ${VALUE}`);
  }, 300_000);

  it('gives a clone a copy of the TPM, which is gone when the clone is deleted', async () => {
    await d.client.call('vms.powerOff', { ref: NAME });
    const c = await d.client.call('vms.clone', { ref: NAME, name: `${NAME}-clone` });
    const cloneDir = c.vm.dir;
    expect(fs.existsSync(path.join(cloneDir, 'tpm'))).toBe(true);
    await d.client.call('vms.start', { ref: c.vm.uuid });
    const report = await bootReport(c.vm.serialLog, 1);
    expect(report).toContain(`NESTBOX-TPM-VALUE ${VALUE}`);
    await d.client.call('vms.powerOff', { ref: c.vm.uuid });
    await d.client.call('vms.delete', { ref: c.vm.uuid });
    expect(fs.existsSync(path.join(cloneDir, 'tpm'))).toBe(false);
    expect(fs.existsSync(cloneDir)).toBe(false);
  }, 300_000);

  it('rolls the TPM back with a live snapshot taken before the value was written (QEMU carries it in the state stream)', async () => {
    // Off, the snapshot with RAM leaves the VM saved; starting resumes its stream, whose TPM
    // state replaces what swtpm holds in the folder (which still has the value).
    await d.client.call('snapshots.restore', { ref: NAME, id: 'before-value' });
    expect(fs.readdirSync(path.join(info.dir, 'tpm')).some((f) => f.startsWith('tpm2-'))).toBe(true);
    await d.client.call('vms.start', { ref: NAME });
    const serial = await SerialSession.open(d.client, NAME);
    expect(await serial.run('tpm-get', /NESTBOX-TPM-VALUE \S+/, 60_000)).toMatch(/NESTBOX-TPM-VALUE none rc=0000018b/);
    await serial.close();
  }, 300_000);

  it('marks the VM aborted with the reason when its swtpm dies', async () => {
    const pid = swtpmPid(home, info)!;
    process.kill(pid, 'SIGKILL');
    await waitForState(d.client, NAME, 'aborted', 30_000);
    const after = await d.client.call('vms.info', { ref: NAME });
    expect(after.stateReason).toMatch(/TPM emulator \(swtpm\) stopped/);
  }, 60_000);

  it("keeps a powered-off snapshot's TPM state and puts it back on restore", async () => {
    const state = path.join(info.dir, 'tpm', 'tpm2-00.permall');
    const before = fs.readFileSync(state);
    await d.client.call('snapshots.take', { ref: NAME, name: 'off' });
    fs.writeFileSync(state, Buffer.from('changed after the snapshot'));
    await d.client.call('snapshots.restore', { ref: NAME, id: 'off' });
    expect(fs.readFileSync(state).equals(before)).toBe(true);
    await d.client.call('snapshots.delete', { ref: NAME, id: 'off' });
    expect(fs.readdirSync(path.join(info.dir, 'snapshots')).filter((f) => f.endsWith('.tpm'))).toEqual([]);
  });

  it('reports a damaged TPM state with the way out, erases nothing unasked, and boots with an empty TPM after a confirmed reset', async () => {
    const state = path.join(info.dir, 'tpm', 'tpm2-00.permall');
    const damaged = Buffer.from('not a TPM state at all');
    fs.writeFileSync(state, damaged);
    await expect(d.client.call('vms.start', { ref: NAME })).rejects.toMatchObject({
      code: 'TPM_FAILED',
      message: expect.stringMatching(/could not load its state \(tpm-emulator: TPM result for CMD_INIT: \S+ operation failed\); if it is stale or damaged, reset the TPM \(nestbox modify 'sb-tpm' --reset-tpm/),
    });
    expect(['poweroff', 'aborted']).toContain((await d.client.call('vms.info', { ref: NAME })).state);
    expect(fs.readFileSync(state).equals(damaged)).toBe(true);
    const boots = fs.readFileSync(info.serialLog, 'utf8').split(/NESTBOX-GUEST-READY/).length - 1;
    await d.client.call('vms.modify', { ref: NAME, changes: { resetTpm: true } });
    await d.client.call('vms.start', { ref: NAME });
    const report = await bootReport(info.serialLog, boots + 1);
    expect(report).toMatch(/NESTBOX-TPM 2\b/);
    expect(report).toMatch(/NESTBOX-TPM-VALUE none/);
    await d.client.call('vms.powerOff', { ref: NAME });
  }, 300_000);

  it('deletes the TPM state with the VM', async () => {
    await d.client.call('vms.delete', { ref: NAME });
    expect(fs.existsSync(path.join(info.dir, 'tpm'))).toBe(false);
  });

  it('refuses an unsigned kernel under Secure Boot', async () => {
    const unsigned = path.join(path.dirname(iso), 'nestbox-sb-unsigned.iso');
    const r = await d.client.call('vms.create', { name: 'unsigned', osType: 'linux-debian', memoryMiB: 512, cpus: 1, noDisk: true, firmware: 'uefi', secureBoot: true, iso: unsigned, display: 'none' });
    await d.client.call('vms.start', { ref: 'unsigned' });
    const text = await waitForFile(r.vm.serialLog, /bad shim signature/, 240_000);
    expect(text).not.toMatch(READY);
    await d.client.call('vms.powerOff', { ref: 'unsigned' });
  }, 300_000);
});
