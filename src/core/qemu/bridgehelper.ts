/**
 * Bridged adapters through qemu-bridge-helper without giving up QEMU's sandbox. QEMU would
 * spawn the helper itself, which its seccomp filter forbids (and no_new_privs would keep a
 * setuid helper from gaining privileges anyway). So the core runs the helper, handing it a
 * connection to a second QMP monitor of the still-stopped QEMU as `--fd`: the helper creates
 * the tap, puts it on the bridge and sends its descriptor (SCM_RIGHTS, one zero byte) into
 * that monitor. `getfd` claims it, `netdev_add tap,fd=` and `device_add` (behind a PCIe root
 * port on q35, whose root bus takes no hotplug) attach it, all before the guest's first
 * instruction.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import type { VmConfig } from '../domain/config';
import { bridgeHelperNics, helperNicPort, QEMU_IDS, RUNTIME_FILES } from './argv';

interface Reply {
  readonly return?: unknown;
  readonly error?: { readonly class: string; readonly desc: string };
  readonly id?: unknown;
}

class RawMonitor {
  private buf = '';
  private readonly waiting = new Map<string, (r: Reply) => void>();
  private seq = 0;

  constructor(readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        let msg: Reply;
        try {
          msg = JSON.parse(line) as Reply;
        } catch {
          continue;
        }
        // The helper's zero byte earns an id-less parse error: expected, ignored.
        if (typeof msg.id === 'string') this.waiting.get(msg.id)?.(msg);
      }
    });
  }

  execute(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
    const id = `nb${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new NestboxError('TIMEOUT', `QEMU did not answer '${command}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        if (r.error) reject(new NestboxError('QMP_ERROR', `QEMU refused '${command}': ${r.error.desc}`, JSON.stringify(args ?? {})));
        else resolve(r.return);
      });
      this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`);
    });
  }
}

function connect(file: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(file);
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Runs the helper for one bridge; its descriptor goes into the monitor behind `sock`. */
function runHelper(helper: string, bridge: string, sock: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(helper, ['--use-vnet', `--br=${bridge}`, '--fd=3'], { stdio: ['ignore', 'ignore', 'pipe', sock] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new NestboxError('HOST_UNSUPPORTED', `could not run ${helper}: ${e.message}`)));
    child.once('exit', (code, signal) => {
      // Handing the socket to the child stops the parent reading it; read again.
      sock.resume();
      if (code === 0) return resolve();
      const why = err.trim().split('\n').filter(Boolean).pop() ?? (signal ? `killed by ${signal}` : `exit status ${code}`);
      reject(new NestboxError('ADMISSION_DENIED', `qemu-bridge-helper could not attach to bridge '${bridge}': ${why}`, err.trim()));
    });
  });
}

/**
 * Attaches every adapter bridged through the helper to a QEMU started (stopped, -S) with the
 * argv's fd monitor and root ports. Throws with the helper's own words when it refuses.
 */
export async function attachHelperNics(cfg: VmConfig, runDir: string, helper: string): Promise<void> {
  const nics = bridgeHelperNics(cfg);
  if (nics.length === 0) return;
  const sock = await connect(path.join(runDir, RUNTIME_FILES.fdMonitor));
  const mon = new RawMonitor(sock);
  try {
    await mon.execute('qmp_capabilities');
    for (const { nic, bootIndex } of nics) {
      await runHelper(helper, nic.bridge ?? '', sock);
      const fdname = `tap-${nic.id}`;
      await mon.execute('getfd', { fdname });
      await mon.execute('netdev_add', { type: 'tap', id: nic.id, fd: fdname, vhost: false });
      const port = helperNicPort(cfg, nic.id);
      await mon.execute('device_add', {
        driver: nic.model,
        netdev: nic.id,
        id: QEMU_IDS.device(nic.id),
        mac: nic.mac,
        ...(port ? { bus: port } : {}),
        ...(bootIndex === undefined ? { romfile: '' } : { bootindex: bootIndex }),
      });
    }
  } finally {
    sock.destroy();
  }
}
