/**
 * Real libvirt hosts for tests, all on this machine: each host is its own libvirtd (and
 * virtlogd) in its own network + mount + UTS namespace, with private /run, /etc/libvirt,
 * /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt, its own hostname
 * and host_uuid (see /work/shared/notes/libvirt-two-hosts.md for what was measured).
 *
 * - The root namespace reaches a host only through its unix socket (`socketUri`) or, for
 *   the SSH host, through a real sshd whose TCP connection is started *inside* the host's
 *   network namespace (`ip netns exec NS nc`, as the ssh ProxyCommand). Nothing ever sends
 *   TCP from the root namespace into a namespace: the root namespace has no route there and
 *   the packets would leave the machine.
 * - Hosts reach each other over TCP (peer-to-peer migration) through veths on a bridge that
 *   lives in a private "hub" namespace, on a random 10.x.y.0/24.
 * - Names include the pid and a random tag, so several test processes can run at once; a
 *   detached watchdog removes everything if the test process dies, and `startLibvirtHosts`
 *   first sweeps what crashed runs (whose pid is gone) left behind.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface LibvirtTestHost {
  /** The host's name, which is also its hostname inside its UTS namespace. */
  readonly name: string;
  /** `qemu+unix:///system?socket=...`: the host's daemon through its socket. */
  readonly socketUri: string;
  /** `qemu+ssh://root@NAME/system?command=...`: the same daemon through a real sshd (key-only). */
  readonly sshUri?: string;
  /** `qemu+tcp://ADDR/system`: how the other hosts' daemons dial this one (never from the root namespace). */
  readonly peerUri: string;
  /** The host's address on the hosts' network; for `--migrateuri tcp://ADDR`. */
  readonly migrateAddr: string;
  /** The host's /var/lib/libvirt/images as seen from the root namespace (private to the host). */
  readonly imagesDir: string;
  /** The same directory as the host's own daemon sees it (for domain XML and pools). */
  readonly hostImagesDir: string;
  /** The network namespace (for `ip netns exec` in tests that need the host's network). */
  readonly netns: string;
  /** An SSH URI for this host that offers the given private key instead of the right one (auth tests). */
  sshUriWithKey?(privateKeyFile: string): string;
  /** Runs a command inside the host's namespaces (mount, UTS, network) and returns stdout. */
  exec(argv: readonly string[], timeoutMs?: number): string;
  stop(): Promise<void>;
  /** Stops libvirtd gracefully and starts it again (guests keep running). */
  restartDaemon(): Promise<void>;
  /** Kills libvirtd with SIGKILL (guests keep running); `startDaemon` brings it back. */
  killDaemon(): Promise<void>;
  startDaemon(): Promise<void>;
}

export interface LibvirtHosts {
  readonly hosts: readonly LibvirtTestHost[];
  /** A directory every host sees at the same path (shared storage for migration tests). */
  readonly sharedDir: string;
  /** A private key that no host accepts (for "SSH refuses auth" tests). */
  readonly wrongKey: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** How many hosts (default 2). */
  readonly count?: number;
  /** Which host (index) also runs sshd; default 1 when there are two or more hosts, else 0; -1 for none. */
  readonly sshHost?: number;
}

const PREFIX = 'nbv';
const TMP = '/tmp';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(argv: readonly string[], opts: { timeoutMs?: number; input?: string; allowFail?: boolean } = {}): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), {
      timeout: opts.timeoutMs ?? 30_000,
      input: opts.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
      maxBuffer: 16 * 1024 * 1024,
    }).toString();
  } catch (e) {
    if (opts.allowFail) return '';
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`${argv.join(' ')} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

function need(binary: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'pipe' });
  } catch {
    throw new Error(`libvirt test hosts need '${binary}' (Debian package ${pkg}); install it: apt-get install ${pkg}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process in each named namespace, deletes the namespaces and the run directory. */
const CLEANUP_SH = `
dir="$1"; shift
for ns in "$@"; do
  for i in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -z "$pids" ] && break
    kill -9 $pids 2>/dev/null
    sleep 0.2
  done
  ip netns del "$ns" 2>/dev/null
done
# The bind mounts lived in the hosts' private mount namespaces, gone with their processes.
[ -n "$dir" ] && rm -rf "$dir"
exit 0
`;

function cleanupRun(dir: string, namespaces: readonly string[]): void {
  run(['sh', '-c', CLEANUP_SH, 'cleanup', dir, ...namespaces], { timeoutMs: 60_000, allowFail: true });
}

/** Removes what runs whose process is gone left behind (namespaces and directories named nbv-PID-...). */
export function sweepStaleLibvirtHosts(): void {
  const nsList = run(['ip', 'netns', 'list'], { allowFail: true })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${PREFIX}-`));
  const runs = new Map<string, string[]>();
  for (const ns of nsList) {
    const m = /^nbv-(\d+)-([0-9a-f]+)-/.exec(ns);
    if (!m) continue;
    const key = `${m[1]}-${m[2]}`;
    runs.set(key, [...(runs.get(key) ?? []), ns]);
  }
  for (const d of fs.readdirSync(TMP)) {
    const m = /^nbv-(\d+)-([0-9a-f]+)$/.exec(d);
    if (m && !runs.has(`${m[1]}-${m[2]}`)) runs.set(`${m[1]}-${m[2]}`, []);
  }
  for (const [key, nss] of runs) {
    const pid = Number(key.split('-')[0]);
    if (pidAlive(pid)) continue;
    cleanupRun(path.join(TMP, `${PREFIX}-${key}`), nss);
  }
}

function libvirtdConf(addr: string, uuid: string): string {
  return [
    'listen_tls = 0',
    'listen_tcp = 1',
    `listen_addr = "${addr}"`,
    'auth_tcp = "none"',
    'auth_unix_rw = "none"',
    'auth_unix_ro = "none"',
    'unix_sock_rw_perms = "0700"',
    `host_uuid = "${uuid}"`,
    'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"',
    '',
  ].join('\n');
}

const QEMU_CONF = ['user = "root"', 'group = "root"', 'dynamic_ownership = 0', 'security_driver = "none"', '# the host already has a /dev of its own (HOLDER_SH); no second one per guest', 'namespaces = []', ''].join('\n');

/** Runs inside `ip netns exec NS unshare --mount --uts --propagation private`; then holds the namespaces. */
const HOLDER_SH = `
set -eu
D="$1"; HN="$2"; SSH="$3"
mount -t tmpfs -o mode=0755 nbv-run /run
mkdir -p /run/libvirt /run/sshd /run/lock
mount --bind "$D/run" /run/libvirt
mount --bind "$D/etc" /etc/libvirt
mount --bind "$D/lib" /var/lib/libvirt
mount --bind "$D/log" /var/log/libvirt
mount --bind "$D/cache" /var/cache/libvirt
# No KVM for the test hosts, whatever this machine's /dev/kvm is (absent, working, or there
# but failing guests, as on some nested machines): their guests run under TCG, the same
# everywhere. A /dev of their own holds every node of this one but kvm, so libvirt finds none.
if [ -e /dev/kvm ]; then
  mkdir -p "$D/dev"
  mount -t tmpfs -o mode=0755 nbv-dev "$D/dev"
  for e in $(ls -A /dev); do
    [ "$e" = kvm ] && continue
    # ptys: the bound devpts's own ptmx (a bound /dev/ptmx node finds no pts beside it).
    [ "$e" = ptmx ] && { ln -s pts/ptmx "$D/dev/ptmx"; continue; }
    if [ -L "/dev/$e" ]; then cp -P "/dev/$e" "$D/dev/$e"
    elif [ -d "/dev/$e" ]; then mkdir "$D/dev/$e" && mount --rbind "/dev/$e" "$D/dev/$e"
    else touch "$D/dev/$e" && mount --bind "/dev/$e" "$D/dev/$e"; fi
  done
  mount --move "$D/dev" /dev
fi
hostname "$HN"
echo $$ > "$D/holder.pid"
virtlogd -d
libvirtd -d --listen
if [ "$SSH" = 1 ]; then /usr/sbin/sshd -f "$D/ssh/sshd_config" -E "$D/ssh/sshd.log"; fi
echo ready > "$D/holder.ready"
exec sleep infinity
`;

const DAEMON_SH = `
set -u
what="$1"
pid=$(cat /run/libvirtd.pid 2>/dev/null || true)
case "$what" in
  stop|restart)
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi ;;
  kill) [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true ;;
esac
for i in $(seq 1 50); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
rm -f /run/libvirtd.pid
case "$what" in restart|start) libvirtd -d --listen ;; esac
`;

async function waitFor(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

function virshOk(uri: string): boolean {
  try {
    execFileSync('virsh', ['-c', uri, 'uri'], { stdio: 'pipe', timeout: 10_000, env: { ...process.env, LC_ALL: 'C' } });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `count` libvirt hosts (about a second each). Throws with a clear message when a
 * prerequisite is missing; never skips.
 */
export async function startLibvirtHosts(opts: StartOptions = {}): Promise<LibvirtHosts> {
  if (process.getuid?.() !== 0) throw new Error('libvirt test hosts need root (network and mount namespaces)');
  need('libvirtd', 'libvirt-daemon-system');
  need('virtlogd', 'libvirt-daemon-system');
  need('virsh', 'libvirt-clients');
  need('ip', 'iproute2');
  need('unshare', 'util-linux');
  need('nsenter', 'util-linux');
  const count = opts.count ?? 2;
  const sshIndex = opts.sshHost ?? (count >= 2 ? 1 : 0);
  if (sshIndex >= 0) {
    need('/usr/sbin/sshd', 'openssh-server');
    need('ssh', 'openssh-client');
    need('ssh-keygen', 'openssh-client');
    need('nc', 'netcat-openbsd');
  }
  // libvirt's qemu driver wants these to exist even when it runs guests as root.
  if (!run(['getent', 'group', 'kvm'], { allowFail: true })) run(['groupadd', '-r', 'kvm']);
  if (!run(['getent', 'passwd', 'libvirt-qemu'], { allowFail: true })) run(['useradd', '-r', '-g', 'kvm', '-d', '/var/lib/libvirt', '-s', '/usr/sbin/nologin', 'libvirt-qemu']);
  for (const d of ['/etc/libvirt', '/var/lib/libvirt', '/var/log/libvirt', '/var/cache/libvirt']) {
    if (!fs.existsSync(d)) throw new Error(`${d} is missing: install libvirt-daemon-system`);
  }

  sweepStaleLibvirtHosts();

  const tag = randomBytes(3).toString('hex');
  const runId = `${PREFIX}-${process.pid}-${tag}`;
  const dir = path.join(TMP, runId);
  fs.mkdirSync(dir, { mode: 0o700 });
  const hub = `${runId}-hub`;
  const nsNames = [hub, ...Array.from({ length: count }, (_, i) => `${runId}-h${i}`)];
  // The watchdog removes everything if this process dies without calling stop().
  const watchdog = spawn(
    'sh',
    ['-c', `while kill -0 ${process.pid} 2>/dev/null && [ -d '${dir}' ]; do sleep 1; done; ${CLEANUP_SH}`, 'watchdog', dir, ...nsNames],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    cleanupRun(dir, nsNames);
    try {
      if (watchdog.pid) process.kill(watchdog.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  };

  try {
    const subnet = `10.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 250) + 1}`;
    const sharedDir = path.join(dir, 'shared');
    fs.mkdirSync(sharedDir, { mode: 0o755 });
    run(['ip', 'netns', 'add', hub]);
    run(['ip', '-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    run(['ip', '-n', hub, 'link', 'set', 'br0', 'up']);
    run(['ip', '-n', hub, 'link', 'set', 'lo', 'up']);

    let wrongKey = '';
    let clientKey = '';
    if (sshIndex >= 0) {
      clientKey = path.join(dir, 'id_ed25519');
      wrongKey = path.join(dir, 'wrong_ed25519');
      run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `${runId}-client`, '-f', clientKey]);
      run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `${runId}-wrong`, '-f', wrongKey]);
    }

    const hosts: LibvirtTestHost[] = [];
    for (let i = 0; i < count; i++) {
      const ns = nsNames[i + 1]!;
      const name = `${runId}-h${i}`;
      const addr = `${subnet}.${10 + i}`;
      const hd = path.join(dir, `h${i}`);
      for (const sub of ['run', 'lib', 'log', 'cache', 'lib/images']) fs.mkdirSync(path.join(hd, sub), { recursive: true, mode: 0o755 });
      run(['cp', '-a', '/etc/libvirt', path.join(hd, 'etc')]);
      // No autostarted NAT network: each host starts lean; tests define what they need.
      fs.rmSync(path.join(hd, 'etc', 'qemu', 'networks', 'autostart'), { recursive: true, force: true });
      fs.writeFileSync(path.join(hd, 'etc', 'libvirtd.conf'), libvirtdConf(addr, randomUUID()));
      fs.writeFileSync(path.join(hd, 'etc', 'qemu.conf'), QEMU_CONF);

      run(['ip', 'netns', 'add', ns]);
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      run(['ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `h${i}`, 'netns', hub]);
      run(['ip', '-n', hub, 'link', 'set', `h${i}`, 'master', 'br0']);
      run(['ip', '-n', hub, 'link', 'set', `h${i}`, 'up']);
      run(['ip', '-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);

      const withSsh = i === sshIndex;
      let sshUri: string | undefined;
      let sshUriWithKey: ((key: string) => string) | undefined;
      if (withSsh) {
        const sd = path.join(hd, 'ssh');
        fs.mkdirSync(sd, { mode: 0o700 });
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path.join(sd, 'host_key')]);
        fs.copyFileSync(`${clientKey}.pub`, path.join(sd, 'authorized_keys'));
        fs.writeFileSync(
          path.join(sd, 'sshd_config'),
          [
            `ListenAddress ${addr}:22`,
            `HostKey ${sd}/host_key`,
            `PidFile /run/sshd.pid`,
            `AuthorizedKeysFile ${sd}/authorized_keys`,
            'PermitRootLogin prohibit-password',
            'PubkeyAuthentication yes',
            'PasswordAuthentication no',
            'KbdInteractiveAuthentication no',
            'UsePAM no',
            'StrictModes no',
            'X11Forwarding no',
            // Forwarding stays on (OpenSSH's default): VNC is reached through `ssh -L local.sock:remote.sock`.
            'AllowTcpForwarding yes',
            'AllowStreamLocalForwarding yes',
            'PrintMotd no',
            'LogLevel VERBOSE',
            '',
          ].join('\n'),
        );
        const hostPub = fs.readFileSync(path.join(sd, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
        fs.writeFileSync(path.join(sd, 'known_hosts'), `${name} ${hostPub}\n`);
        const sshConfig = (key: string, file: string) => {
          fs.writeFileSync(
            file,
            [
              `Host ${name}`,
              `  HostName ${addr}`,
              '  User root',
              `  IdentityFile ${key}`,
              '  IdentitiesOnly yes',
              '  IdentityAgent none',
              `  UserKnownHostsFile ${sd}/known_hosts`,
              '  GlobalKnownHostsFile /dev/null',
              `  HostKeyAlias ${name}`,
              '  StrictHostKeyChecking yes',
              '  BatchMode yes',
              '  PasswordAuthentication no',
              '  KbdInteractiveAuthentication no',
              '  ConnectTimeout 10',
              '  ServerAliveInterval 5',
              '  ServerAliveCountMax 3',
              // The TCP connection starts inside the host's network namespace, never in the root one.
              `  ProxyCommand ip netns exec ${ns} nc %h %p`,
              '',
            ].join('\n'),
          );
        };
        const wrapper = (key: string, label: string) => {
          const conf = path.join(sd, `config-${label}`);
          sshConfig(key, conf);
          const script = path.join(sd, `ssh-${label}`);
          fs.writeFileSync(script, `#!/bin/sh\nexec ssh -F ${conf} "$@"\n`, { mode: 0o755 });
          return `qemu+ssh://root@${name}/system?command=${encodeURIComponent(script)}&no_tty=1`;
        };
        sshUri = wrapper(clientKey, 'ok');
        let n = 0;
        sshUriWithKey = (key: string) => wrapper(key, `k${n++}`);
      }

      const holder = spawn('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', HOLDER_SH, 'holder', hd, name, withSsh ? '1' : '0'], {
        detached: true,
        stdio: ['ignore', 'ignore', fs.openSync(path.join(hd, 'holder.log'), 'a')],
      });
      holder.unref();
      const socketUri = `qemu+unix:///system?socket=${path.join(hd, 'run', 'libvirt-sock')}`;
      await waitFor(`host ${name} to set up its namespaces (see ${hd}/holder.log)`, 20_000, () => fs.existsSync(path.join(hd, 'holder.ready')) || holder.exitCode !== null);
      if (!fs.existsSync(path.join(hd, 'holder.ready'))) throw new Error(`host ${name} failed to start: ${fs.readFileSync(path.join(hd, 'holder.log'), 'utf8')}`);
      const holderPid = Number(fs.readFileSync(path.join(hd, 'holder.pid'), 'utf8').trim());
      const nsExec = (argv: readonly string[], timeoutMs = 30_000) =>
        run(['nsenter', '-t', String(holderPid), '-m', '-u', '-n', '--', ...argv], { timeoutMs });
      const waitDaemon = () => waitFor(`libvirtd of ${name} to answer on ${socketUri} (log: ${hd}/log/libvirtd.log)`, 30_000, () => virshOk(socketUri));
      await waitDaemon();
      const daemon = async (what: 'stop' | 'restart' | 'kill' | 'start') => {
        nsExec(['sh', '-c', DAEMON_SH, 'daemon', what], 30_000);
        if (what === 'restart' || what === 'start') await waitDaemon();
      };
      // A `default` dir pool on the host's private images directory, as a fresh install has.
      run(['virsh', '-c', socketUri, 'pool-define-as', 'default', 'dir', '--target', '/var/lib/libvirt/images']);
      run(['virsh', '-c', socketUri, 'pool-start', 'default']);
      run(['virsh', '-c', socketUri, 'pool-autostart', 'default']);

      const host: LibvirtTestHost = {
        name,
        socketUri,
        ...(sshUri ? { sshUri } : {}),
        ...(sshUriWithKey ? { sshUriWithKey } : {}),
        peerUri: `qemu+tcp://${addr}/system`,
        migrateAddr: addr,
        imagesDir: path.join(hd, 'lib', 'images'),
        hostImagesDir: '/var/lib/libvirt/images',
        netns: ns,
        exec: nsExec,
        stop: stopAll,
        restartDaemon: () => daemon('restart'),
        killDaemon: () => daemon('kill'),
        startDaemon: () => daemon('start'),
      };
      hosts.push(host);
    }
    return { hosts, sharedDir, wrongKey, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
