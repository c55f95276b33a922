/**
 * The clipboard channel: QEMU's `qemu-vdagent` chardev (clipboard=on) behind a virtio-serial
 * port named com.redhat.spice.0, which the guest's spice-vdagent opens; QEMU's VNC server
 * carries the text to and from the viewer (noVNC's clipboard).
 *
 * Before QEMU 8.1 the vdagent chardev blocks migration ("vdagent chardev doesn't yet support
 * migration"), and with it Save state, live snapshots and snapshot-save. There it is not put
 * on the command line: the core plugs it over QMP once the VM runs and unplugs it around
 * everything that writes the VM's memory (removing the chardev lifts the blocker), then plugs
 * it back. The guest sees the port leave and come back; spice-vdagent reopens it. Every saved
 * memory image is therefore of a machine without the port, which is what a VM of that QEMU
 * starts as, so a saved state or snapshot always loads.
 */
import { NestboxError } from '../api/errors';
import { VDAGENT_IDS, VIRTIO_PORT_NAMES, type ClipboardWiring } from './argv';
import type { QmpClient } from './qmp';

/** How a VM gets the channel on this QEMU: on the command line where it can migrate (8.1+), else plugged by the core. */
export function clipboardWiring(qemu: { readonly major: number; readonly minor: number }): ClipboardWiring {
  return qemu.major > 8 || (qemu.major === 8 && qemu.minor >= 1) ? 'argv' : 'hotplug';
}

/** How long an unplugged port may take to go (QEMU removes a virtserialport at once; this only bounds a stuck QEMU). */
export const UNPLUG_TIMEOUT_MS = 10_000;

/** What of the channel QEMU has now. */
export interface VdagentPresence {
  readonly port: boolean;
  readonly chardev: boolean;
}

export async function vdagentPresence(qmp: QmpClient): Promise<VdagentPresence> {
  const [peripherals, chardevs] = await Promise.all([
    qmp.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' }),
    qmp.execute<{ label: string }[]>('query-chardev'),
  ]);
  return { port: peripherals.some((p) => p.name === VDAGENT_IDS.port), chardev: chardevs.some((c) => c.label === VDAGENT_IDS.chardev) };
}

/** Plugs the channel (what is already there stays). */
export async function plugVdagent(qmp: QmpClient): Promise<void> {
  const has = await vdagentPresence(qmp);
  if (!has.chardev) {
    await qmp.execute('chardev-add', { id: VDAGENT_IDS.chardev, backend: { type: 'qemu-vdagent', data: { clipboard: true } } });
  }
  if (!has.port) {
    await qmp.execute('device_add', {
      driver: 'virtserialport',
      bus: VDAGENT_IDS.bus,
      chardev: VDAGENT_IDS.chardev,
      id: VDAGENT_IDS.port,
      name: VIRTIO_PORT_NAMES.vdagent,
    });
  }
}

/**
 * Unplugs the channel: the port (waiting for DEVICE_DELETED, so the chardev is free), then the
 * chardev. Returns whether anything was there, so the caller knows whether to plug it back.
 */
export async function unplugVdagent(qmp: QmpClient, timeoutMs = UNPLUG_TIMEOUT_MS): Promise<boolean> {
  const has = await vdagentPresence(qmp);
  if (has.port) {
    // Listening before the command: the event can come before its reply.
    const deleted = qmp.waitEvent('DEVICE_DELETED', { timeoutMs, predicate: (ev) => ev.data['device'] === VDAGENT_IDS.port });
    try {
      await qmp.execute('device_del', { id: VDAGENT_IDS.port });
    } catch (err) {
      deleted.catch(() => undefined);
      throw err;
    }
    await deleted.catch((err: unknown) => {
      throw new NestboxError('QEMU_FAILED', `the clipboard port was not removed: ${(err as Error).message}`);
    });
  }
  if (has.chardev) await qmp.execute('chardev-remove', { id: VDAGENT_IDS.chardev });
  return has.port || has.chardev;
}
