/**
 * Security properties of what actually runs: the QEMU process Nestbox starts (its user, its
 * seccomp sandbox, no TCP listener, no inherited descriptors, sockets in a private directory,
 * no format probing on its command line) and `nestbox serve` as a process (loopback only,
 * nothing without the token, traversal refused).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qemuUser } from '../../src/core/qemu/runas';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { CLI, cleanupHome, openCore, tempHome, testIso } from '../integration/helpers';

/** Inodes of the sockets a process has open. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** Listening TCP sockets (IPv4 and IPv6) among the given inodes, as "addr:port" (hex, as /proc has them). */
function tcpListeners(inodes: Set<string>): string[] {
  const found: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(f)) continue;
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols: sl local rem st ... inode at index 9
      if (cols.length > 9 && cols[3] === '0A' && inodes.has(cols[9]!)) found.push(cols[1]!);
    }
  }
  return found;
}

describe('the QEMU that Nestbox starts', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let pid: number;
  let runDir: string;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: 'guarded', osType: 'linux-other', memoryMiB: 128, cpus: 1, diskSize: '64M', nic: 'nat', iso: testIso() });
    const r = await client.call('vms.start', { ref: 'guarded' });
    pid = r.vm.runtime!.pid;
    runDir = hosted.core.layout.vmRunDir(r.vm.uuid);
  });
  afterAll(async () => {
    await client.call('vms.powerOff', { ref: 'guarded' }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('runs as the user (never root: as root, as the unprivileged QEMU user), under a seccomp filter, with no privileges to gain', () => {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status)!;
    const gid = /^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status)!;
    // Real, effective, saved and filesystem ids: none is root.
    for (const i of [1, 2, 3, 4]) expect(Number(uid[i]), `uid field ${i}`).not.toBe(0);
    for (const i of [1, 2, 3, 4]) expect(Number(gid[i]), `gid field ${i}`).not.toBe(0);
    const expected = process.getuid!() === 0 ? qemuUser() : null;
    if (process.getuid!() === 0) expect(expected, 'as root a QEMU user is configured').not.toBeNull();
    for (const i of [1, 2, 3, 4]) expect(Number(uid[i])).toBe(expected ? expected.uid : process.getuid!());
    for (const i of [1, 2, 3, 4]) expect(Number(gid[i])).toBe(expected ? expected.gid : process.getgid!());
    // No supplementary group of root's rides along.
    const groups = /^Groups:\s*(.*)$/m.exec(status)![1]!.trim();
    if (expected) expect(groups === '' ? [] : groups.split(/\s+/).map(Number)).not.toContain(0);
    // 2 = SECCOMP_MODE_FILTER: QEMU's -sandbox is in force.
    expect(/^Seccomp:\s+(\d+)/m.exec(status)![1]).toBe('2');
    expect(/^NoNewPrivs:\s+(\d+)/m.exec(status)![1]).toBe('1');
  });

  it('listens on no TCP port (VNC, QMP and serial are unix sockets)', () => {
    expect(tcpListeners(socketInodes(pid))).toEqual([]);
  });

  it('keeps its sockets in a private 0700 directory, and inherits none of the core’s files', () => {
    expect(fs.statSync(runDir).mode & 0o777).toBe(0o700);
    for (const f of ['qmp.sock', 'vnc.sock', 'serial.sock']) expect(fs.statSync(path.join(runDir, f)).isSocket(), f).toBe(true);
    const targets = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(targets.filter((t) => t.includes('nestbox.db') || t.endsWith('core.lock') || t.endsWith('core.sock'))).toEqual([]);
  });

  it('never lets QEMU probe an image format: every block node names its driver', () => {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const banned of ['-drive', '-hda', '-hdb', '-cdrom', '-fda']) expect(argv, banned).not.toContain(banned);
    const nodes = argv.flatMap((a, i) => (argv[i - 1] === '-blockdev' ? [a] : []));
    expect(nodes.length).toBeGreaterThan(0);
    for (const n of nodes) expect(n, n).toMatch(/(^|,)driver=(qcow2|raw|file|host_device|host_cdrom|vmdk|vdi|vpc|vhdx)(,|$)/);
    const formats = nodes.filter((n) => /(^|,)file=/.test(n));
    for (const n of formats) expect(n).toMatch(/^driver=(qcow2|raw|vmdk|vdi|vpc|vhdx),/);
  });
});

describe('nestbox serve as a process', () => {
  let home: string;
  let child: ReturnType<typeof spawn>;
  let url: URL;

  beforeAll(async () => {
    home = tempHome();
    child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { env: { ...process.env, NESTBOX_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    url = await new Promise<URL>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /(http:\/\/\S+\/\?token=\S+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(new URL(m[1]!));
        }
      });
    });
    // The URL comes before the core is open (the page loads meanwhile); its database is there once
    // serve says it hosts the core. A liveness bound for a hung start-up, not a performance claim.
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve never said its core was ready: ${err}`)), 60_000);
      const check = () => {
        if (/hosting the core/.test(err)) {
          clearTimeout(t);
          resolve();
        }
      };
      check();
      child.stderr!.on('data', check);
    });
  });
  afterAll(async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await cleanupHome(home);
  });

  const get = (p: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: p, headers }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });

  it('binds loopback only by default', () => {
    expect(url.hostname).toBe('127.0.0.1');
    const inodes = socketInodes(child.pid!);
    const listeners = tcpListeners(inodes);
    expect(listeners).toHaveLength(1);
    // 0100007F is 127.0.0.1 in /proc/net/tcp's little-endian hex.
    expect(listeners[0]!.split(':')[0]).toBe('0100007F');
    expect(parseInt(listeners[0]!.split(':')[1]!, 16)).toBe(Number(url.port));
  });

  it('serves nothing without the token, and no file outside the UI with it', async () => {
    for (const p of ['/', '/index.html', '/rpc', '/upload?name=x.iso', '/../../etc/passwd']) expect((await get(p)).status, p).toBe(401);
    const login = await get(`/?token=${url.searchParams.get('token')}`);
    expect(login.status).toBe(303);
    const cookie = String(login.headers['set-cookie']![0]).split(';')[0]!;
    expect((await get('/', { Cookie: cookie })).body).toContain('<title>Nestbox</title>');
    for (const p of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2f..%2f..%2fetc%2fpasswd', '/..%5c..%5cetc%5cpasswd']) {
      const r = await get(p, { Cookie: cookie });
      expect(r.body, p).not.toMatch(/root:x:0:0/);
    }
  });

  it('DELETE /upload removes nothing without the token or this origin, nothing outside the media folder, nothing it did not upload', async () => {
    const del = (p: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: url.hostname, port: url.port, path: p, method: 'DELETE', headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end();
      });
    const db = path.join(home, 'nestbox.db');
    expect(fs.existsSync(db)).toBe(true);
    const mediaDir = path.join(home, 'media');
    fs.mkdirSync(mediaDir, { recursive: true });
    fs.writeFileSync(path.join(mediaDir, 'users-own.iso'), 'x');
    expect(await del('/upload?name=users-own.iso')).toBe(401);
    const login = await get(`/?token=${url.searchParams.get('token')}`);
    const cookie = String(login.headers['set-cookie']![0]).split(';')[0]!;
    const origin = `http://${url.host}`;
    expect(await del('/upload?name=users-own.iso', { Cookie: cookie })).toBe(403);
    expect(await del('/upload?name=users-own.iso', { Cookie: cookie, Origin: 'http://127.0.0.1:1' })).toBe(403);
    for (const name of ['../nestbox.db', '..%2Fnestbox.db', encodeURIComponent(db), '%2e%2e%2fnestbox.db', '..%5cnestbox.db']) {
      expect(await del(`/upload?name=${name}`, { Cookie: cookie, Origin: origin }), name).toBe(400);
    }
    expect(await del('/upload?name=users-own.iso', { Cookie: cookie, Origin: origin })).toBe(404);
    expect(fs.existsSync(db)).toBe(true);
    expect(fs.existsSync(path.join(mediaDir, 'users-own.iso'))).toBe(true);
  });
});
