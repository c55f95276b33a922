/** virsh output parsers (LC_ALL=C), with what a hostile host could send. */
import { describe, expect, it } from 'vitest';
import {
  parseDomInfo,
  parseEventField,
  parseEventLine,
  parseJobInfo,
  completedJobResult,
  parseNodeInfo,
  parsePoolXml,
  parseSnapshotXml,
  parseUuidNameList,
  parseVersion,
  parseVolumeXml,
  splitBatch,
  virshQuote,
} from '../../../../src/core/libvirt/parse';

const U1 = '2682f64d-9277-425f-af6c-1d33f363c18e';
const U2 = '11111111-2222-3333-4444-555555555555';

const DOMINFO = (uuid: string, name: string, extra = '') => `Id:             1
Name:           ${name}
UUID:           ${uuid}
OS Type:        hvm
State:          running
CPU(s):         2
CPU time:       9.1s
Max memory:     131072 KiB
Used memory:    131072 KiB
Persistent:     yes
Autostart:      disable
Managed save:   no
Security model: none
${extra}`;

const errCode = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('virsh output parsers', () => {
  it('version (remote: the daemon version wins)', () => {
    const out = 'Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.22\nRunning against daemon: 8.0.0\n';
    expect(parseVersion(out, 'h')).toEqual({ libvirt: '8.0.0', hypervisor: 'QEMU 7.2.22' });
    expect(parseVersion('Using library: libvirt 9.0.0\n', 'h')).toEqual({ libvirt: '9.0.0', hypervisor: null });
    expect(errCode(() => parseVersion('garbage', 'h'))).toBe('PROTOCOL_ERROR');
  });

  it('nodeinfo, bounded', () => {
    const out = 'CPU model:           x86_64\nCPU(s):              2\nMemory size:         24683748 KiB\n';
    expect(parseNodeInfo(out, 'h0\n', 'h')).toEqual({ cpus: 2, memoryKiB: 24683748, model: 'x86_64', hostname: 'h0' });
    expect(errCode(() => parseNodeInfo(out.replace('24683748', '99999999999999999999'), 'h0', 'h'))).toBe('PROTOCOL_ERROR');
    expect(errCode(() => parseNodeInfo(out.replace('CPU(s):              2', 'CPU(s): -1'), 'h0', 'h'))).toBe('PROTOCOL_ERROR');
    expect(parseNodeInfo(out, 'evil\u001b[2Jhost', 'h').hostname).toBe('evil[2Jhost');
  });

  it('list --uuid --name, names with spaces and metacharacters kept as data', () => {
    expect(parseUuidNameList(`${U1} t1\n${U2.toUpperCase()} my vm; $(rm -rf) <x> 'q'\n\n`, 'h')).toEqual([
      { uuid: U1, name: 't1' },
      { uuid: U2, name: "my vm; $(rm -rf) <x> 'q'" },
    ]);
    expect(errCode(() => parseUuidNameList('not-a-uuid name\n', 'h'))).toBe('PROTOCOL_ERROR');
  });

  it('a batch is split on its own random marker only: a domain name cannot forge one', () => {
    const nonce = 'abcdef0123456789';
    const forged = `@@NB-0000000000000000@@ ${U2} @@`;
    const out = `@@NB-${nonce}@@ ${U1} @@${DOMINFO(U1, forged)}<nodes/>\n@@NB-${nonce}@@ ${U2} @@\n${DOMINFO(U2, 'b')}<nodes/>\n@@NB-${nonce}@@ 0 @@`;
    const m = splitBatch(out, nonce);
    expect([...m.keys()]).toEqual([U1, U2]);
    const a = parseDomInfo(U1, m.get(U1)!, 'h', () => null)!;
    expect(a.name).toBe(forged);
    expect(a).toMatchObject({ uuid: U1, state: 'running', persistent: true, memoryKiB: 131072, vcpus: 2, hasManagedSave: false });
    // A section that answers for another domain is refused, not attributed.
    expect(errCode(() => parseDomInfo(U1, DOMINFO(U2, 'x'), 'h', () => null))).toBe('PROTOCOL_ERROR');
    // A domain gone between the list and the batch is skipped.
    expect(parseDomInfo(U1, '', 'h', () => null)).toBeNull();
    expect(errCode(() => parseDomInfo(U1, DOMINFO(U1, 'x').replace('131072 KiB', '9'.repeat(30) + ' KiB'), 'h', () => null))).toBe('PROTOCOL_ERROR');
  });

  it('events with timestamps; other lines ignored', () => {
    expect(parseEventLine("2026-12-04 15:17:35.951+0000: event 'lifecycle' for domain 't1': Suspended Paused")).toEqual({
      domain: 't1',
      event: 'lifecycle',
      detail: 'Suspended Paused',
      at: Date.UTC(2026, 11, 4, 15, 17, 35, 951),
    });
    expect(parseEventLine("event 'reboot' for domain 'x y':")).toMatchObject({ domain: 'x y', event: 'reboot', detail: '' });
    expect(parseEventLine('events received: 2')).toBeNull();
    expect(parseEventLine('')).toBeNull();
  });

  it("a job-completed event's parameter lines give libvirt's figures; anything else is not a figure", () => {
    const lines = ['\toperation: 5', '\ttime_elapsed: 1481', '\tdowntime: 162', '\tdata_processed: 123456789', '\tdisk_total: 0'];
    const fields = new Map(lines.map((l) => parseEventField(l)!));
    expect(fields.get('time_elapsed')).toBe('1481');
    expect(completedJobResult(fields)).toEqual({ elapsedMs: 1481, downtimeMs: 162, dataBytes: 123456789 });
    expect(completedJobResult(new Map([['time_elapsed', '900']]))).toEqual({ elapsedMs: 900, downtimeMs: null, dataBytes: null });
    expect(completedJobResult(new Map([['downtime', '5']]))).toBeNull();
    expect(completedJobResult(new Map([['time_elapsed', '-1']]))).toBeNull();
    expect(completedJobResult(new Map([['time_elapsed', '9'.repeat(30)]]))).toBeNull();
    expect(parseEventField("event 'lifecycle' for domain 'x': Started")).toBeNull();
    expect(parseEventField('\tNot A Key: 1')).toBeNull();
  });

  it('domjobinfo in virsh units, and --completed with downtime', () => {
    const running = `Job type:         Unbounded
Operation:        Outgoing migration
Time elapsed:     1204         ms
Data processed:   40.123 MiB
Data remaining:   200.000 MiB
Data total:       264.203 MiB
Memory processed: 40.123 MiB
Dirty rate:       1234         pages/s
`;
    const j = parseJobInfo(running, 'h');
    expect(j.type).toBe('Unbounded');
    expect(j.progress.elapsedMs).toBe(1204);
    expect(j.progress.dataProcessed).toBe(Math.round(40.123 * 1024 * 1024));
    expect(j.progress.dataTotal).toBe(Math.round(264.203 * 1024 * 1024));
    expect(j.progress.dirtyRate).toBe(1234);
    const done = parseJobInfo('Job type:         Completed\nTime elapsed:     1713         ms\nData processed:   130.5 MiB\nTotal downtime:   152          ms\n', 'h');
    expect(done.downtimeMs).toBe(152);
    expect(done.progress.elapsedMs).toBe(1713);
    expect(errCode(() => parseJobInfo('Job type: Unbounded\nData total: 99999999999999999999 TiB\n', 'h'))).toBe('PROTOCOL_ERROR');
    expect(errCode(() => parseJobInfo('nothing', 'h'))).toBe('PROTOCOL_ERROR');
  });

  it('snapshot XML: parent, memory, hostile input refused', () => {
    const xml = `<domainsnapshot><name>s2</name><description>after update</description><state>running</state><parent><name>s1</name></parent><creationTime>1796397823</creationTime><memory snapshot='internal'/><domain type='qemu'/></domainsnapshot>`;
    expect(parseSnapshotXml(xml, 'h', true)).toEqual({ name: 's2', parent: 's1', current: true, createdAt: 1796397823000, state: 'running', description: 'after update', hasMemory: true });
    expect(parseSnapshotXml(xml.replace(/<parent>.*<\/parent>/, '').replace("snapshot='internal'", "snapshot='no'"), 'h', false)).toMatchObject({ parent: null, hasMemory: false });
    expect(errCode(() => parseSnapshotXml(`<!DOCTYPE x [<!ENTITY a "b">]>${xml}`, 'h', false))).toBe('PROTOCOL_ERROR');
    expect(errCode(() => parseSnapshotXml(xml.replace('1796397823', '1e99'), 'h', false))).toBe('PROTOCOL_ERROR');
  });

  it('pool and volume XML in bytes only', () => {
    const pool = `<pool type='dir'><name>default</name><uuid>${U1}</uuid><capacity unit='bytes'>270553174016</capacity><allocation unit='bytes'>1</allocation><available unit='bytes'>245634281472</available><target><path>/var/lib/libvirt/images</path></target></pool>`;
    expect(parsePoolXml(pool, true, 'h')).toEqual({ name: 'default', active: true, path: '/var/lib/libvirt/images', capacity: 270553174016, available: 245634281472 });
    expect(errCode(() => parsePoolXml(pool.replace("unit='bytes'>270553174016", "unit='KiB'>1"), true, 'h'))).toBe('PROTOCOL_ERROR');
    const vol = `<volume type='file'><name>a.qcow2</name><key>/p/a.qcow2</key><capacity unit='bytes'>1073741824</capacity><allocation unit='bytes'>200704</allocation><target><path>/p/a.qcow2</path><format type='qcow2'/></target></volume>`;
    expect(parseVolumeXml(vol, 'h')).toEqual({ name: 'a.qcow2', path: '/p/a.qcow2', capacity: 1073741824, allocation: 200704, format: 'qcow2' });
    expect(errCode(() => parseVolumeXml(vol.replace('1073741824', '99999999999999999999'), 'h'))).toBe('PROTOCOL_ERROR');
  });

  it("virshQuote: virsh's own parser gets one literal word", () => {
    expect(virshQuote("a b'c;$(d)")).toBe(`'a b'\\''c;$(d)'`);
    expect(errCode(() => virshQuote('a\nb'))).toBe('INVALID_ARGUMENT');
  });
});
