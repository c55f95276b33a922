import { describe, expect, it } from 'vitest';
import { parseAccelChoice, resolveAccelerator } from '../../../../src/core/qemu/host';
import type { AcceleratorStatus } from '../../../../src/core/api/contract';
import { NestboxError } from '../../../../src/core/api/errors';

const KVM_OK: AcceleratorStatus = { name: 'kvm', usable: true };
const KVM_BAD: AcceleratorStatus = {
  name: 'kvm',
  usable: false,
  reason: 'KVM cannot run a 64-bit guest on this host: kvm_set_msrs: failed to set MSR 0x38f',
};
const NO_DEV_KVM: AcceleratorStatus = {
  name: 'kvm',
  usable: false,
  reason: '/dev/kvm does not exist (virtualization disabled in firmware, or the kvm module is not loaded)',
};
const HVF_ELSEWHERE: AcceleratorStatus = { name: 'hvf', usable: false, reason: 'HVF exists only on macOS' };
const WHPX_ELSEWHERE: AcceleratorStatus = { name: 'whpx', usable: false, reason: 'WHPX exists only on Windows' };
const TCG: AcceleratorStatus = { name: 'tcg', usable: true };

/** What probeHost reports on Linux. */
const linuxHost = (kvm: AcceleratorStatus): AcceleratorStatus[] => [kvm, HVF_ELSEWHERE, WHPX_ELSEWHERE, TCG];

function thrown(fn: () => unknown): NestboxError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NestboxError);
    return err as NestboxError;
  }
  throw new Error('did not throw');
}

describe('resolveAccelerator: auto', () => {
  it('prefers a usable KVM, with no note', () => {
    expect(resolveAccelerator('auto', linuxHost(KVM_OK))).toEqual({ accel: 'kvm' });
  });

  it('prefers hardware regardless of list order', () => {
    expect(resolveAccelerator('auto', [TCG, KVM_OK])).toEqual({ accel: 'kvm' });
  });

  it('picks another usable hardware accelerator (HVF on a Mac)', () => {
    const mac: AcceleratorStatus[] = [{ name: 'kvm', usable: false, reason: 'KVM exists only on Linux' }, { name: 'hvf', usable: true }, TCG];
    expect(resolveAccelerator('auto', mac)).toEqual({ accel: 'hvf' });
  });

  it("falls back to TCG when KVM is unusable, with a note that carries KVM's reason", () => {
    const r = resolveAccelerator('auto', linuxHost(KVM_BAD));
    expect(r.accel).toBe('tcg');
    expect(r.note).toContain('TCG');
    expect(r.note).toContain(KVM_BAD.reason);
  });

  it("keeps other platforms' 'exists only on' reasons out of the note", () => {
    const r = resolveAccelerator('auto', linuxHost(NO_DEV_KVM));
    expect(r.note).toContain('/dev/kvm does not exist');
    expect(r.note).not.toContain('macOS');
    expect(r.note).not.toContain('Windows');
  });

  it('says there is no hardware accelerator when none applies to this host', () => {
    const r = resolveAccelerator('auto', [{ name: 'kvm', usable: false, reason: 'KVM exists only on Linux' }, HVF_ELSEWHERE, WHPX_ELSEWHERE, TCG]);
    expect(r).toEqual({ accel: 'tcg', note: 'using TCG software emulation (slow): no hardware accelerator on this host' });
  });

  it('fails with HOST_UNSUPPORTED when QEMU was not found (nothing probed)', () => {
    const err = thrown(() => resolveAccelerator('auto', []));
    expect(err.code).toBe('HOST_UNSUPPORTED');
    expect(err.message).toContain('QEMU was not found');
  });
});

describe('resolveAccelerator: forced', () => {
  it('uses a forced KVM that works', () => {
    expect(resolveAccelerator('kvm', linuxHost(KVM_OK))).toEqual({ accel: 'kvm' });
  });

  it('refuses a forced KVM that is unusable with HOST_UNSUPPORTED naming the reason (no silent fallback)', () => {
    const err = thrown(() => resolveAccelerator('kvm', linuxHost(KVM_BAD)));
    expect(err.code).toBe('HOST_UNSUPPORTED');
    expect(err.message).toContain("'kvm'");
    expect(err.message).toContain(KVM_BAD.reason);
  });

  it('refuses a forced accelerator QEMU does not report', () => {
    const err = thrown(() => resolveAccelerator('whpx', []));
    expect(err.code).toBe('HOST_UNSUPPORTED');
    expect(err.message).toContain('QEMU was not found');
  });

  it('uses a forced TCG even when KVM works, with no note', () => {
    expect(resolveAccelerator('tcg', linuxHost(KVM_OK))).toEqual({ accel: 'tcg' });
  });

  it('refuses forced HVF on Linux', () => {
    const err = thrown(() => resolveAccelerator('hvf', linuxHost(KVM_OK)));
    expect(err.code).toBe('HOST_UNSUPPORTED');
    expect(err.message).toContain('HVF exists only on macOS');
  });
});

describe('parseAccelChoice', () => {
  it.each(['auto', 'kvm', 'hvf', 'whpx', 'tcg'] as const)('accepts %s', (v) => {
    expect(parseAccelChoice(v)).toBe(v);
  });

  it('treats a missing or empty value as no choice', () => {
    expect(parseAccelChoice(undefined)).toBeUndefined();
    expect(parseAccelChoice('')).toBeUndefined();
  });

  it.each(['foo', 'KVM', ' kvm', 'kvm,tcg', 'xen'])('rejects %j with INVALID_ARGUMENT', (v) => {
    const err = thrown(() => parseAccelChoice(v));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain(`'${v}'`);
  });
});
