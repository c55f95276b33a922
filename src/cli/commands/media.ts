/** Storage: the media registry, image operations, import/export, attaching disks. */
import path from 'node:path';
import type { ImportPlan, MediumInfo, VmInfo } from '../../core/api/contract';
import { formatBytes } from '../../core/domain/units';
import { command, type CommandGroup, req, UsageError } from '../command';
import { formatFromName, intOpt, out, printMedia } from '../format';
import { followJob } from '../progress';

const json = { type: 'boolean', help: 'machine-readable output' } as const;
/** `nestbox disk ...` is the same as `nestbox media ...`. */
const aliases = ['disk'] as const;

const list = command({
  name: 'media list',
  aliases,
  args: [],
  options: { json },
  summary: 'the media registry: disks and ISOs, sizes, which VMs and snapshots use them',
  async handler(ctx, _args, o) {
    const l = await (await ctx.client()).call('media.registry', {});
    if (o.json) out(JSON.stringify(l, null, 2));
    else printMedia(l);
  },
});

const info = command({
  name: 'media info',
  aliases,
  args: [req('IMAGE')],
  options: { json },
  summary: 'inspect an image (format, sizes) and register it',
  async handler(ctx, [image], o) {
    const m = await (await ctx.client()).call('media.info', { path: path.resolve(image) });
    if (o.json) out(JSON.stringify(m, null, 2));
    else printMedia([m]);
  },
});

const create = command({
  name: 'media create',
  aliases,
  args: [req('FILE')],
  options: {
    size: { type: 'string', value: 'SIZE', help: 'the virtual size (e.g. 20G); required' },
    format: { type: 'string', value: 'qcow2|raw', help: 'the format (default qcow2)' },
    preallocation: { type: 'string', value: 'off|metadata|falloc|full', help: 'preallocation (default off)' },
  },
  summary: 'create an empty disk image',
  async handler(ctx, [file], o) {
    if (!o.size) throw new UsageError('media create needs --size (e.g. --size 20G)');
    const format = o.format ?? 'qcow2';
    if (format !== 'qcow2' && format !== 'raw') throw new UsageError('--format must be qcow2 or raw');
    const pre = o.preallocation ?? 'off';
    if (!['off', 'metadata', 'falloc', 'full'].includes(pre)) throw new UsageError('--preallocation must be off, metadata, falloc or full');
    const c = await ctx.client();
    const target = path.resolve(file);
    const j = await followJob(c, () => c.call('media.create', { path: target, format, size: o.size!, preallocation: pre as 'off' }));
    const m = j.result as MediumInfo;
    out(`Created ${m.path} (${m.format}, ${formatBytes(m.virtualSize)})`);
  },
});

const convert = command({
  name: 'media convert',
  aliases,
  args: [req('SRC'), req('DST')],
  options: {
    format: { type: 'string', value: 'F', help: "qcow2, raw, vdi, vmdk, vpc, vhdx (default: from DST's extension)" },
    subformat: { type: 'string', value: 'streamOptimized|monolithicSparse', help: 'the VMDK flavour' },
  },
  summary: 'convert an image to another format',
  async handler(ctx, [src, dst], o) {
    const target = path.resolve(dst);
    const format = o.format ?? formatFromName(target);
    if (!format) throw new UsageError(`cannot tell the format from '${dst}'; pass --format qcow2|raw|vdi|vmdk|vpc|vhdx`);
    const c = await ctx.client();
    const j = await followJob(c, () =>
      c.call('media.convert', {
        source: path.resolve(src),
        target,
        format: format as 'qcow2',
        ...(o.subformat ? { subformat: o.subformat as 'streamOptimized' } : {}),
      }),
    );
    out(`Converted to ${(j.result as MediumInfo).path} (${format})`);
  },
});

const resize = command({
  name: 'media resize',
  aliases,
  args: [req('IMAGE'), req('SIZE')],
  options: { shrink: { type: 'boolean', help: 'allow shrinking (loses data past the new end)' } },
  summary: 'grow a disk (shrinking needs --shrink and loses data past the end)',
  async handler(ctx, [image, size], o) {
    const c = await ctx.client();
    const j = await followJob(c, () => c.call('media.resize', { path: path.resolve(image), size, shrink: o.shrink === true }));
    out(`Resized ${(j.result as MediumInfo).path} to ${formatBytes((j.result as MediumInfo).virtualSize)}`);
  },
});

const compact = command({
  name: 'media compact',
  aliases,
  args: [req('IMAGE')],
  options: {},
  summary: 'rewrite a qcow2/raw image without its unused space',
  async handler(ctx, [image]) {
    const file = path.resolve(image);
    const c = await ctx.client();
    const j = await followJob(c, () => c.call('media.compact', { path: file }));
    out(`Compacted ${file}: it now takes ${formatBytes((j.result as MediumInfo).actualSize)}`);
  },
});

const check = command({
  name: 'media check',
  aliases,
  args: [req('IMAGE')],
  options: { 'no-repair': { type: 'boolean', help: 'only report leaked clusters' }, json },
  summary: 'qemu-img check; leaked clusters are repaired unless --no-repair',
  async handler(ctx, [image], o) {
    const file = path.resolve(image);
    const c = await ctx.client();
    const j = await followJob(c, () => c.call('media.check', { path: file, repair: o['no-repair'] !== true }));
    const r = j.result as { corruptions: number; leaks: number; leaksFixed: number };
    if (o.json) out(JSON.stringify(r, null, 2));
    else out(r.corruptions ? `${file}: ${r.corruptions} corruption(s) found` : r.leaks ? `${file}: ${r.leaks} leaked cluster(s), ${r.leaksFixed} repaired` : `${file}: no errors`);
    return r.corruptions ? 1 : 0;
  },
});

const del = command({
  name: 'media delete',
  aliases,
  args: [req('IMAGE')],
  options: { 'delete-file': { type: 'boolean', help: 'delete the file too' } },
  summary: 'forget an unused image (and delete its file)',
  async handler(ctx, [image], o) {
    const file = path.resolve(image);
    await (await ctx.client()).call('media.delete', { path: file, deleteFile: o['delete-file'] === true });
    out(o['delete-file'] ? `Deleted ${file}` : `Removed ${file} from the registry (the file is kept)`);
  },
});

const importVm = command({
  name: 'import',
  args: [req('FILE')],
  options: {
    name: { type: 'string', value: 'N', help: 'the new VM\'s name' },
    'in-place': { type: 'boolean', help: 'use the disk where it is instead of converting a copy' },
    'os-type': { type: 'string', value: 'T', help: 'OS type' },
    memory: { type: 'string', value: 'MiB', help: 'memory in MiB' },
    cpus: { type: 'string', value: 'N', help: 'virtual CPUs' },
    bus: { type: 'string', value: 'virtio|sata|ide|nvme', help: 'the disk bus' },
    'dry-run': { type: 'boolean', help: 'print what would be created and what cannot be carried over; create nothing' },
    json,
  },
  summary: 'a disk image (VDI, VMDK, VHD(X), qcow2, raw), an OVA/OVF, a libvirt domain XML, a VirtualBox .vbox or a UTM bundle (.utm folder) becomes a new VM',
  details: "disks are converted to qcow2 into the VM's folder unless --in-place",
  async handler(ctx, [file], o) {
    const c = await ctx.client();
    const spec = {
      file: path.resolve(file),
      ...(o.name ? { name: o.name } : {}),
      mode: o['in-place'] ? ('inPlace' as const) : ('copy' as const),
      ...(o['os-type'] ? { osType: o['os-type'] } : {}),
      ...(o.memory ? { memoryMiB: intOpt(o.memory, '--memory')! } : {}),
      ...(o.cpus ? { cpus: intOpt(o.cpus, '--cpus')! } : {}),
      ...(o.bus ? { diskBus: o.bus as 'virtio' } : {}),
    };
    if (o['dry-run']) {
      const p = await c.call('vms.importPlan', spec);
      if (o.json) out(JSON.stringify(p, null, 2));
      else out(formatPlan(p));
      return;
    }
    const j = await followJob(c, () => c.call('vms.import', spec));
    const vm = j.result as VmInfo & { notCarried?: readonly string[] };
    if (o.json) out(JSON.stringify(vm, null, 2));
    else {
      out(`Imported '${vm.name}' (${vm.uuid}) in ${vm.dir}`);
      for (const n of vm.notCarried ?? []) out(`Not carried over: ${n}`);
    }
  },
});

/** `import --dry-run`: the VM that would be made, one fact a line. */
export function formatPlan(p: ImportPlan): string {
  const lines = [
    `Would create '${p.name}' from a ${{ ova: 'OVA appliance', ovf: 'OVF descriptor', libvirt: 'libvirt domain XML', vbox: 'VirtualBox machine', utm: 'UTM virtual machine', disk: 'disk image' }[p.source]}:`,
    `  OS type:    ${p.osType}`,
    `  firmware:   ${p.firmware === 'uefi' ? 'UEFI' : 'BIOS'}`,
    `  machine:    ${p.machine}`,
    `  memory:     ${p.memoryMiB} MiB`,
    `  CPUs:       ${p.cpus}`,
    ...p.disks.map((d, i) => `  disk${i}:      ${d.source} (${d.format}, ${d.bus}${d.flattened ? `, a snapshot chain of ${d.flattened} images flattened` : ''}${d.inPlace ? ', used in place' : ', converted to qcow2'})`),
    ...(p.cdroms ? [`  CD drives:  ${p.cdroms}`] : []),
    ...p.nics.map((n, i) => `  adapter ${i + 1}:  ${n.model}, MAC ${n.mac}, ${n.mode}${n.bridge ? ` (${n.bridge})` : ''}${n.forwards ? `, ${n.forwards} port forward${n.forwards === 1 ? '' : 's'}` : ''}`),
    `  boot order: ${p.bootOrder.join(', ')}`,
  ];
  if (p.notCarried.length) lines.push('Cannot be carried over:', ...p.notCarried.map((n) => `  - ${n}`));
  else lines.push('Everything the source describes is carried over.');
  lines.push('(dry run: nothing was created)');
  return lines.join('\n');
}

const exportVm = command({
  name: 'export',
  args: [req('NAME'), req('FILE.ova')],
  options: {},
  summary: 'export a powered-off VM as an OVA (OVF 1.0, streamOptimized VMDK)',
  async handler(ctx, [ref, file]) {
    const c = await ctx.client();
    const j = await followJob(c, () => c.call('vms.export', { ref, file: path.resolve(file) }));
    const r = j.result as { file: string; notExported?: readonly string[] };
    out(`Exported '${ref}' to ${r.file}`);
    for (const n of r.notExported ?? []) out(`Not exported: ${n}`);
  },
});

const attach = command({
  name: 'attach',
  args: [req('NAME'), req('IMAGE')],
  options: { bus: { type: 'string', value: 'virtio|sata|ide|nvme', help: 'the disk bus' }, 'read-only': { type: 'boolean', help: 'attach read-only' } },
  summary: 'attach an existing image as a new disk',
  async handler(ctx, [ref, image], o) {
    const r = await (await ctx.client()).call('vms.attachDisk', { ref, path: path.resolve(image), ...(o.bus ? { bus: o.bus as 'virtio' } : {}), readOnly: o['read-only'] === true });
    const d = r.vm.config.disks[r.vm.config.disks.length - 1]!;
    out(`Attached ${d.file} to '${r.vm.name}' as ${d.id} (${d.format}, ${d.bus})`);
  },
});

const detach = command({
  name: 'detach',
  args: [req('NAME'), req('DISK')],
  options: {},
  summary: 'detach a disk (disk0, disk1, ...); the file is kept',
  async handler(ctx, [ref, disk]) {
    await (await ctx.client()).call('vms.detachDisk', { ref, disk });
    out(`Detached ${disk} from '${ref}' (the file is kept)`);
  },
});

export const mediaCommands: CommandGroup = {
  name: 'media',
  title: 'Storage',
  commands: [list, info, create, convert, resize, compact, check, del, importVm, exportVm, attach, detach],
};
