import { describe, expect, it } from 'vitest';
import { HostRuleError, isRemoteUri, parseHostUri, parseVmRef, sshHostUri, validateHostName, validateHostUri } from '../../../../src/core/domain/hosts';

describe('host names', () => {
  it.each(['lab', 'Lab-2', 'home.server', 'a_b', 'x'.repeat(32)])('accepts %s', (n) => expect(validateHostName(n)).toBe(n));
  it.each(['', '-lab', 'x'.repeat(33), 'a b', 'a;b', 'a$(id)', '<x/>', 'a:b', 'a/b', "a'b", 'a\nb'])('refuses %j', (n) => {
    expect(() => validateHostName(n)).toThrow(/not a valid host name/);
  });
  it('reserves local for this computer', () => {
    expect(() => validateHostName('LOCAL')).toThrow(/reserved/);
  });
});

describe('host URIs', () => {
  it.each([
    'qemu:///system',
    'qemu:///session',
    'qemu+ssh://root@server/system',
    'qemu+ssh://me@server.example.org:2222/system',
    'qemu+ssh://server/system?keyfile=/home/me/.ssh/id_ed25519&no_tty=1',
    'qemu+ssh://root@h1/system?command=%2Ftmp%2Fx%2Fssh.sh&no_tty=1',
    'qemu+tls://server/system',
    'qemu+tcp://10.0.0.2/system',
    'qemu+unix:///system?socket=/run/libvirt/libvirt-sock',
    'qemu+ssh://root@[fe80::1]/system',
  ])('accepts %s', (u) => expect(validateHostUri(u)).toBe(u));

  it.each([
    ['', /empty/],
    ['http://server/', /not supported|not a libvirt URI/],
    ['qemu+ext:///system?command=/bin/sh', /not supported/],
    ['xen:///system', /not supported/],
    ['qemu+ssh://me:secret@server/system', /password/],
    ['qemu+ssh://me:@server/system', /password/],
    ['qemu+ssh://-oProxyCommand=touch%20x/system', /not a valid host/],
    ['qemu+ssh://-l@server/system', /not a valid user/],
    ['qemu+ssh://server/system?netcat=rm', /not allowed/],
    ['qemu+ssh://server/system?command=ssh', /absolute path/],
    ['qemu+tls://server/system?command=/bin/sh', /only names the local ssh program/],
    ['qemu+ssh://server/system?proxy=x', /not allowed/],
    ['qemu+ssh://server/', /\/system/],
    ['qemu+ssh://server/system/../x', /\/system/],
    ['qemu+ssh:///system', /names a host/],
    ['qemu+unix://server/system', /has no host/],
    ['qemu+unix:///system?socket=relative', /absolute/],
    ['qemu+ssh://server:99999/system', /out of range/],
    ['qemu+ssh://server/system; rm -rf /', /spaces/],
    ['qemu+ssh://ser"ver/system', /quotes/],
    ['qemu+ssh://server/system\n', /control/],
    [`qemu+ssh://server/system?keyfile=${'a'.repeat(1100)}`, /1024/],
  ])('refuses %j', (u, why) => {
    expect(() => validateHostUri(u)).toThrow(HostRuleError);
    expect(() => validateHostUri(u)).toThrow(why);
  });

  it('parses the parts', () => {
    const p = parseHostUri('qemu+ssh://me@server:2222/system?no_tty=1');
    expect(p).toMatchObject({ scheme: 'qemu+ssh', user: 'me', host: 'server', port: 2222, path: '/system' });
    expect(p.params.get('no_tty')).toBe('1');
    expect(isRemoteUri('qemu+ssh://server/system')).toBe(true);
    expect(isRemoteUri('qemu+unix:///system?socket=/x')).toBe(false);
  });

  it('builds the SSH form’s URI', () => {
    expect(sshHostUri('me', 'server', 22)).toBe('qemu+ssh://me@server/system');
    expect(sshHostUri('me', 'server', 2222)).toBe('qemu+ssh://me@server:2222/system');
    expect(sshHostUri('', 'server')).toBe('qemu+ssh://server/system');
    expect(() => sshHostUri('me', '-oProxyCommand=x')).toThrow(/not a valid host/);
  });
});

describe('VM references', () => {
  const hosts = new Set(['lab']);
  const isHost = (n: string) => hosts.has(n.toLowerCase());
  it('reads HOST:VM, local:VM and plain names', () => {
    expect(parseVmRef('lab:web', isHost)).toEqual({ kind: 'host', host: 'lab', vm: 'web' });
    expect(parseVmRef('LAB:web:x', isHost)).toEqual({ kind: 'host', host: 'LAB', vm: 'web:x' });
    expect(parseVmRef('local:web', isHost)).toEqual({ kind: 'local', ref: 'web' });
    expect(parseVmRef('web', isHost)).toEqual({ kind: 'local', ref: 'web' });
    expect(parseVmRef('0b7d1f9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f', isHost)).toEqual({ kind: 'local', ref: '0b7d1f9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f' });
  });
  it('names an unknown host and a missing VM part', () => {
    expect(() => parseVmRef('nolab:web', isHost)).toThrow(/no host named 'nolab'/);
    try {
      parseVmRef('nolab:web', isHost);
    } catch (e) {
      expect((e as HostRuleError).kind).toBe('unknownHost');
    }
    expect(() => parseVmRef('lab:', isHost)).toThrow(/names no VM/);
  });
});
