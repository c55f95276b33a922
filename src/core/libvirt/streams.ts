/**
 * Byte streams to a guest's consoles through the host connection, never through a port
 * opened to the network:
 * - serial: libvirt's own console stream (`virsh console --force`), which works for every
 *   transport; virsh wants a terminal, so it runs under `script` (util-linux) on a pty whose
 *   raw mode virsh sets itself, so the bytes pass unchanged;
 * - VNC: the unix socket (or 127.0.0.1 port) on the host, directly for a local daemon, through
 *   an SSH stream-local forward (`ssh -N -L local.sock:remote`) for qemu+ssh hosts, which
 *   needs nothing installed on the host beyond its sshd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import type { ByteStream, DomainDescription } from './types';
import { virshArgv, virshEnv } from './virsh';

/** POSIX shell single-quoting (for `script -c`, which takes a command line). */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

class StreamBase implements ByteStream {
  private dataCbs: ((b: Buffer) => void)[] = [];
  private closeCbs: ((r: string) => void)[] = [];
  private early: Buffer[] = [];
  private closedReason: string | null = null;
  constructor(private readonly writer: (b: Buffer) => void, private readonly closer: () => void) {}
  write(b: Buffer): void {
    if (this.closedReason === null) this.writer(b);
  }
  onData(cb: (b: Buffer) => void): void {
    this.dataCbs.push(cb);
    for (const b of this.early.splice(0)) cb(b);
  }
  onClose(cb: (reason: string) => void): void {
    if (this.closedReason !== null) cb(this.closedReason);
    else this.closeCbs.push(cb);
  }
  close(): void {
    this.closer();
    this.ended('closed');
  }
  emit(b: Buffer): void {
    if (this.dataCbs.length) for (const cb of this.dataCbs) cb(b);
    else if (this.early.length < 4096) this.early.push(b);
  }
  ended(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const cb of this.closeCbs.splice(0)) cb(reason);
  }
}

function killGroup(p: ChildProcess): void {
  if (p.pid === undefined || p.exitCode !== null) return;
  try {
    process.kill(-p.pid, 'SIGTERM');
  } catch {
    p.kill('SIGTERM');
  }
}

/**
 * What virsh itself prints on the console's terminal before the guest's bytes: the banner
 * ("Connected to domain ...", "Escape character is ^]") without -q, and libvirt's polkit
 * notice when it finds no agent. None of it is guest output.
 */
const VIRSH_NOISE = /^(?:\r?\n)?(?:(?:Connected to domain|Escape character is|Authorization not available)[^\n]*\n)+/;
const NOISE_PREFIXES = ['Connected to domain', 'Escape character is', 'Authorization not available'];

/** Splits what virsh wrote before the guest's first byte from the guest's bytes; null: need more. */
export function stripConsoleNoise(head: Buffer, final: boolean): Buffer | null {
  const text = head.toString('latin1');
  const m = VIRSH_NOISE.exec(text);
  const rest = m ? text.slice(m[0].length) : text;
  const restTrim = rest.replace(/^\r?\n?/, '');
  // A partial noise line may still be arriving: wait for its end (bounded).
  if (!final && restTrim.length < 40 && NOISE_PREFIXES.some((p) => p.startsWith(restTrim.slice(0, p.length)) && !restTrim.includes('\n'))) return null;
  return Buffer.from(rest, 'latin1');
}

export function openSerialStream(virsh: string, uri: string, ref: string, host: string): ByteStream {
  const cmd = [virsh, ...virshArgv(uri, ['console', '--force', '--domain', ref])].map(shQuote).join(' ');
  const proc = spawn('script', ['-q', '-f', '-e', '-E', 'never', '-c', cmd, '/dev/null'], { env: virshEnv(), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const s = new StreamBase(
    (b) => proc.stdin!.write(b),
    () => killGroup(proc),
  );
  let head: Buffer | null = Buffer.alloc(0);
  let err = '';
  const flushHead = (final: boolean) => {
    if (head === null) return;
    const rest = stripConsoleNoise(head, final || head.length > 1024);
    if (rest === null) return;
    head = null;
    if (rest.length) s.emit(rest);
  };
  const headTimer = setTimeout(() => flushHead(true), 3000);
  proc.stdout!.on('data', (b: Buffer) => {
    if (head !== null) {
      head = Buffer.concat([head, b]);
      flushHead(false);
      return;
    }
    s.emit(b);
  });
  proc.on('close', () => {
    clearTimeout(headTimer);
    flushHead(true);
  });
  proc.stderr!.on('data', (b: Buffer) => {
    if (err.length < 8192) err += b.toString('utf8');
  });
  proc.stdin!.on('error', () => undefined);
  proc.on('error', (e) => s.ended(`serial console of ${ref} on ${host}: ${e.message} (script from util-linux is needed)`));
  proc.on('close', (code) => s.ended(code === 0 ? 'closed' : `serial console of ${ref} on ${host} ended: ${err.trim().split('\n').pop() ?? `exit ${String(code)}`}`));
  return s;
}

function socketStream(sock: net.Socket, onClosed: () => void): StreamBase {
  const s = new StreamBase(
    (b) => sock.write(b),
    () => {
      sock.destroy();
      onClosed();
    },
  );
  sock.on('data', (b: Buffer) => s.emit(b));
  sock.on('error', (e) => s.ended(e.message));
  sock.on('close', () => {
    onClosed();
    s.ended('closed');
  });
  return s;
}

function connectUnix(p: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ path: p });
    const t = setTimeout(() => {
      sock.destroy();
      reject(new NestboxError('TIMEOUT', `connecting to ${p} took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(t);
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

interface ParsedUri {
  readonly transport: string;
  readonly user: string | null;
  readonly host: string;
  readonly port: string | null;
  readonly params: URLSearchParams;
}

export function parseLibvirtUri(uri: string): ParsedUri {
  const m = /^([a-z0-9]+)(?:\+([a-z0-9]+))?:\/\/(?:([^@/]*)@)?([^/:?]*)(?::(\d+))?(\/[^?]*)?(?:\?(.*))?$/.exec(uri);
  if (!m) throw new NestboxError('INVALID_ARGUMENT', `'${uri}' is not a libvirt URI`);
  const transport = m[2] ?? (m[4] ? 'tls' : 'unix');
  return { transport, user: m[3] ? decodeURIComponent(m[3]) : null, host: decodeURIComponent(m[4] ?? ''), port: m[5] ?? null, params: new URLSearchParams(m[7] ?? '') };
}

/** ssh argv as libvirt itself would run it for this URI (command=, keyfile=, no_verify=, port, user). */
export function sshArgvFor(uri: string): string[] {
  const u = parseLibvirtUri(uri);
  if (u.transport !== 'ssh') throw new NestboxError('UNSUPPORTED', `${uri} is not an SSH URI`);
  const argv = [u.params.get('command') ?? 'ssh'];
  if (u.port) argv.push('-p', u.port);
  if (u.user) argv.push('-l', u.user);
  const key = u.params.get('keyfile');
  if (key) argv.push('-i', key);
  const kh = u.params.get('known_hosts');
  if (kh) argv.push('-o', `UserKnownHostsFile=${kh}`);
  if (u.params.get('no_verify') === '1') argv.push('-o', 'StrictHostKeyChecking=no');
  argv.push('-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes', '-T', '-e', 'none');
  return argv;
}

export async function openVncStream(uri: string, d: DomainDescription, host: string): Promise<ByteStream> {
  const g = d.graphics.find((x) => x.type === 'vnc');
  if (!g) throw new NestboxError('UNSUPPORTED', `${d.name} on ${host} has no VNC display`);
  if (!g.socket && (g.port === null || g.port <= 0)) throw new NestboxError('INVALID_STATE', `${d.name} on ${host} has no VNC socket or port (is it running?)`);
  const u = parseLibvirtUri(uri);
  const local = u.transport === 'unix' && !u.host;
  if (local) {
    if (g.socket) {
      const sock = await connectUnix(g.socket, 10_000).catch((e: Error) => {
        throw new NestboxError('FAILED', `cannot open the VNC socket of ${d.name} on ${host} (${g.socket}): ${e.message}`);
      });
      return socketStream(sock, () => undefined);
    }
    if (g.listen && g.listen !== '127.0.0.1' && g.listen !== '::1' && g.listen !== 'localhost') {
      throw new NestboxError('UNSUPPORTED', `${d.name} listens for VNC on ${g.listen}; Nestbox only uses a unix socket or 127.0.0.1`);
    }
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port: g.port! });
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
    return socketStream(sock, () => undefined);
  }
  if (u.transport !== 'ssh') throw new NestboxError('UNSUPPORTED', `VNC of ${d.name} is reached through SSH; ${host} is connected over ${u.transport} (use a qemu+ssh:// URI)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbx-vnc-'));
  const localSock = path.join(dir, `${randomBytes(4).toString('hex')}.sock`);
  const remote = g.socket ?? `127.0.0.1:${g.port}`;
  const argv = [...sshArgvFor(uri), '-N', '-L', `${localSock}:${remote}`, '--', u.host];
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, LC_ALL: 'C' } });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => {
    if (err.length < 8192) err += b.toString('utf8');
  });
  const cleanup = () => {
    killGroup(proc);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(localSock)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      cleanup();
      throw new NestboxError('HOST_UNREACHABLE', `cannot reach the VNC display of ${d.name} through SSH to ${host}: ${err.trim().split('\n').pop() ?? 'no forward within 20 s'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const sock = await connectUnix(localSock, 10_000).catch((e: Error) => {
    cleanup();
    throw new NestboxError('FAILED', `VNC forward of ${d.name} on ${host}: ${e.message}`);
  });
  const s = socketStream(sock, cleanup);
  proc.on('close', () => {
    sock.destroy();
    s.ended(`the SSH connection to ${host} ended${err ? `: ${err.trim().split('\n').pop()}` : ''}`);
  });
  return s;
}
