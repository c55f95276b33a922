/**
 * Host names, libvirt connection URIs and `HOST:VM` references: pure rules, shared by the
 * core, the CLI and the renderer's Add Host dialog.
 *
 * A URI reaches libvirt's client code (virsh) as one argv element, so there is no shell to
 * escape; the rules exist because libvirt itself acts on URI parts. `?command=`/`?netcat=`
 * make it run programs, `qemu+ext` runs any program, a host or user starting with '-' would
 * reach ssh as an option, and a password in a URI ends up in process lists and the database.
 * (`?command=` is accepted only as the absolute path of the local ssh program.)
 */

export class HostRuleError extends Error {
  /** 'unknownHost': a `HOST:VM` ref names no known host; everything else is bad input. */
  constructor(
    message: string,
    readonly kind: 'invalid' | 'unknownHost' = 'invalid',
  ) {
    super(message);
    this.name = 'HostRuleError';
  }
}

/** The name of "this computer" in refs (`local:VM`) and in `vms.list { host }`. */
export const LOCAL_HOST = 'local';

const HOST_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

export function validateHostName(name: string): string {
  if (typeof name !== 'string' || !HOST_NAME_RE.test(name)) {
    throw new HostRuleError(`'${String(name)}' is not a valid host name (1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit)`);
  }
  if (name.toLowerCase() === LOCAL_HOST) throw new HostRuleError(`'${LOCAL_HOST}' is reserved for this computer`);
  return name;
}

export const HOST_URI_SCHEMES = ['qemu', 'qemu+ssh', 'qemu+libssh2', 'qemu+libssh', 'qemu+tls', 'qemu+tcp', 'qemu+unix'] as const;
export type HostUriScheme = (typeof HOST_URI_SCHEMES)[number];

/** URI parameters libvirt documents for these transports that only choose how to connect. */
const SAFE_PARAMS = new Set(['command', 'socket', 'keyfile', 'no_verify', 'no_tty', 'known_hosts', 'known_hosts_verify', 'sshauth', 'pkipath', 'mode', 'tls_priority']);

const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
/** A DNS name, an IPv4 address or a bracketed IPv6 address; never starting with '-'. */
const HOSTPART_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]+\])$/;

export interface ParsedHostUri {
  readonly scheme: HostUriScheme;
  readonly user: string | null;
  readonly host: string | null;
  readonly port: number | null;
  readonly path: '/system' | '/session';
  readonly params: ReadonlyMap<string, string>;
}

/** Checks a libvirt URI by the rules above; returns it unchanged when it passes. */
export function parseHostUri(uri: string, what = 'URI'): ParsedHostUri {
  if (typeof uri !== 'string' || uri === '') throw new HostRuleError(`the ${what} is empty`);
  if (uri.length > 1024) throw new HostRuleError(`the ${what} is longer than 1024 characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f"'`\\<>]/.test(uri)) throw new HostRuleError(`the ${what} contains spaces, quotes, backslashes or control characters`);
  const m = /^([a-z0-9+]+):\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(uri);
  if (!m) throw new HostRuleError(`'${uri}' is not a libvirt URI (e.g. qemu:///system, qemu+ssh://user@host/system)`);
  const scheme = m[1]!;
  if (!(HOST_URI_SCHEMES as readonly string[]).includes(scheme)) {
    throw new HostRuleError(`the ${what} scheme '${scheme}' is not supported (use ${HOST_URI_SCHEMES.join(', ')})`);
  }
  const authority = m[2]!;
  const path = m[3] ?? '';
  if (path !== '/system' && path !== '/session') throw new HostRuleError(`the ${what} must end in /system (or /session), not '${path || '(nothing)'}'`);
  let user: string | null = null;
  let hostport = authority;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    hostport = authority.slice(at + 1);
    if (userinfo.includes(':')) throw new HostRuleError(`never put a password in a host URI: use SSH keys or an agent (or TLS certificates)`);
    if (!USER_RE.test(userinfo)) throw new HostRuleError(`'${userinfo}' is not a valid user name in the ${what}`);
    user = userinfo;
  }
  let host: string | null = null;
  let port: number | null = null;
  if (hostport !== '') {
    const pm = /^(.*?)(?::([0-9]{1,5}))?$/.exec(hostport)!;
    host = pm[1]!;
    if (!HOSTPART_RE.test(host)) throw new HostRuleError(`'${host}' is not a valid host name or address in the ${what}`);
    if (pm[2] !== undefined) {
      port = Number(pm[2]);
      if (port < 1 || port > 65535) throw new HostRuleError(`port ${pm[2]} in the ${what} is out of range (1-65535)`);
    }
  }
  const params = new Map<string, string>();
  if (m[4]) {
    for (const part of m[4].slice(1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const k = eq < 0 ? part : part.slice(0, eq);
      let v: string;
      try {
        v = decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1));
      } catch {
        throw new HostRuleError(`the ${what} parameter '${k}' is not properly encoded`);
      }
      if (!SAFE_PARAMS.has(k)) throw new HostRuleError(`the ${what} parameter '${k}' is not allowed (allowed: ${[...SAFE_PARAMS].join(', ')})`);
      params.set(k, v);
    }
  }
  const remote = scheme !== 'qemu' && scheme !== 'qemu+unix';
  if (remote && host === null) throw new HostRuleError(`a ${scheme} URI names a host: ${scheme}://user@host/system`);
  if (scheme === 'qemu+unix' && host !== null) throw new HostRuleError(`a qemu+unix URI has no host: qemu+unix:///system?socket=/path/to/libvirt-sock`);
  if (params.has('command')) {
    // libvirt runs it here instead of `ssh` (a wrapper script, say): a local program the
    // user chose, named by an absolute path; never for other transports.
    if (!scheme.startsWith('qemu+ssh') && !scheme.startsWith('qemu+libssh')) throw new HostRuleError(`the command parameter only names the local ssh program of an ssh URI`);
    if (!/^\/[A-Za-z0-9._/+-]+$/.test(params.get('command')!)) throw new HostRuleError(`the command parameter must be the absolute path of the local ssh program`);
  }
  if (params.has('socket')) {
    const s = params.get('socket')!;
    if (!s.startsWith('/') || s.includes('\0')) throw new HostRuleError(`the socket parameter must be an absolute path`);
  }
  if ((scheme === 'qemu' || scheme === 'qemu+unix') && user !== null) throw new HostRuleError(`a local ${scheme} URI has no user`);
  return { scheme: scheme as HostUriScheme, user, host, port, path: path as '/system', params };
}

export function validateHostUri(uri: string, what = 'URI'): string {
  parseHostUri(uri, what);
  return uri;
}

/** True when the URI crosses a network (keepalive matters, the host can be unreachable). */
export function isRemoteUri(uri: string): boolean {
  const s = parseHostUri(uri).scheme;
  return s !== 'qemu' && s !== 'qemu+unix';
}

/** The URI the Add Host dialog's SSH form makes. */
export function sshHostUri(user: string, host: string, port?: number | null): string {
  const u = user.trim();
  const h = host.trim();
  const uri = `qemu+ssh://${u ? `${u}@` : ''}${h}${port && port !== 22 ? `:${port}` : ''}/system`;
  return validateHostUri(uri);
}

export type VmRef = { readonly kind: 'local'; readonly ref: string } | { readonly kind: 'host'; readonly host: string; readonly vm: string };

/**
 * `HOST:VM` names a VM on a libvirt host; `local:VM` or a plain name (local VM names never
 * contain ':') one on this computer. `isHost` says whether a prefix is a known host, so a
 * typo in the host part is an error naming the host, not "no VM named 'lab:web'".
 */
export function parseVmRef(ref: string, isHost: (name: string) => boolean): VmRef {
  const i = ref.indexOf(':');
  if (i < 0) return { kind: 'local', ref };
  const host = ref.slice(0, i);
  const vm = ref.slice(i + 1);
  if (host.toLowerCase() === LOCAL_HOST) return { kind: 'local', ref: vm };
  if (vm === '') throw new HostRuleError(`'${ref}' names no VM after the host (HOST:VM)`);
  if (!isHost(host)) throw new HostRuleError(`no host named '${host}' (see: nestbox host list)`, 'unknownHost');
  return { kind: 'host', host, vm };
}
