/** How libvirt's error lines become NestboxError codes, and which URIs are refused before virsh runs. */
import { describe, expect, it } from 'vitest';
import { checkUri, classifyVirshError, hostOfUri, virshArgv, virshError } from '../../../../src/core/libvirt/virsh';
import { parseLibvirtUri, shQuote, sshArgvFor, stripConsoleNoise } from '../../../../src/core/libvirt/streams';

describe('libvirt errors', () => {
  it.each([
    ["error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/x/libvirt-sock': No such file or directory", 'HOST_UNREACHABLE'],
    ['error: failed to connect to the hypervisor\nerror: Cannot recv data: root@h: Permission denied (publickey).: Connection reset by peer', 'HOST_UNREACHABLE'],
    ['error: failed to connect to the hypervisor\nerror: Cannot recv data: Host key verification failed.: Connection reset by peer', 'HOST_UNREACHABLE'],
    ['error: failed to connect to the hypervisor\nerror: no connection driver available for bogus:///system', 'INVALID_ARGUMENT'],
    ["error: failed to get domain 'nope'", 'NOT_FOUND'],
    ["error: Failed to start domain 't1'\nerror: Requested operation is not valid: domain is already running", 'INVALID_STATE'],
    ['error: Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainMigratePerform3Params)', 'BUSY'],
    ['error: this function is not supported by the connection driver: virDomainSnapshotCreateXML', 'UNSUPPORTED'],
    ['error: Unsafe migration: Migration without shared storage is unsafe', 'FAILED'],
    ['error: operation aborted: migration out job: canceled by client', 'CANCELLED'],
    ["error: failed to connect to the hypervisor\nerror: internal error: unexpected qemu URI path '/nonsense', try qemu:///system", 'INVALID_ARGUMENT'],
  ])('%s → %s', (stderr, code) => {
    expect(classifyVirshError(stderr)).toBe(code);
  });

  it("keeps libvirt's own words and names the host", () => {
    const e = virshError('qemu+ssh://root@lab/system', 'start web', "error: Failed to start domain 'web'\nerror: internal error: process exited while connecting to monitor");
    expect(e.code).toBe('FAILED');
    expect(e.message).toBe('libvirt host lab: start web: internal error: process exited while connecting to monitor');
  });
});

describe('URIs', () => {
  it.each(['qemu:///system', 'qemu+ssh://root@lab:2222/system?keyfile=/k&no_tty=1', 'qemu+tls://h.example/system', 'qemu+unix:///system?socket=/tmp/x/libvirt-sock'])('accepts %s', (u) => {
    expect(checkUri(u)).toBe(u);
  });
  it.each(['', '-c', 'qemu', 'ssh://', 'qemu+ssh://h/system\n--help', 'qemu+ssh://h /system', 'qemu:///sys tem', 'x'.repeat(3000)])('refuses %j', (u) => {
    expect(() => checkUri(u)).toThrow(/URI/);
  });
  it('names the host', () => {
    expect(hostOfUri('qemu+ssh://root@lab:22/system')).toBe('lab:22');
    expect(hostOfUri('qemu+ssh://root@lab/system')).toBe('lab');
  });
  it('passes the URI as one argv element after -c, with keepalive', () => {
    expect(virshArgv('qemu:///system', ['list'])).toEqual(['-q', '-k', '5', '-K', '3', '-c', 'qemu:///system', 'list']);
  });
  it('builds the ssh argv libvirt would use (command=, keyfile=, port, user)', () => {
    expect(parseLibvirtUri('qemu+ssh://root@lab:2222/system?command=/w&keyfile=/k')).toMatchObject({ transport: 'ssh', user: 'root', host: 'lab', port: '2222' });
    expect(sshArgvFor('qemu+ssh://root@lab:2222/system?command=%2Fw&keyfile=/k&no_verify=1')).toEqual([
      '/w', '-p', '2222', '-l', 'root', '-i', '/k', '-o', 'StrictHostKeyChecking=no', '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes', '-T', '-e', 'none',
    ]);
    expect(() => sshArgvFor('qemu+tls://lab/system')).toThrow(/not an SSH URI/);
  });
  it('quotes for sh -c', () => {
    expect(shQuote("a'b $(c)")).toBe(`'a'\\''b $(c)'`);
  });
});

describe('serial console noise', () => {
  it("strips virsh's own lines before the guest's bytes, keeps the guest's", () => {
    const b = (s: string) => Buffer.from(s, 'latin1');
    expect(stripConsoleNoise(b('Authorization not available. Check if polkit service is running.\r\nhello'), false)!.toString()).toBe('hello');
    expect(stripConsoleNoise(b("Connected to domain 't1'\r\nEscape character is ^] (Ctrl + ])\r\n\xff\x00"), false)!.toString('latin1')).toBe('\xff\x00');
    expect(stripConsoleNoise(b('Author'), false)).toBeNull();
    expect(stripConsoleNoise(b('guest output'), false)!.toString()).toBe('guest output');
  });
});
