/** Shared folders: host folders a guest mounts by tag (virtiofs, or 9p). */
import path from 'node:path';
import { command, type CommandGroup, req } from '../command';
import { out, table, warn } from '../format';

const json = { type: 'boolean', help: 'machine-readable output' } as const;

const shareList = command({
  name: 'share list',
  lead: 1,
  args: [req('NAME')],
  options: { json },
  summary: "the VM's shared folders",
  async handler(ctx, [vm], o) {
    const shares = await (await ctx.client()).call('shares.list', { ref: vm });
    if (o.json) out(JSON.stringify(shares, null, 2));
    else if (shares.length === 0) out(`'${vm}' has no shared folders; add one: nestbox share '${vm}' add DIR`);
    else out(table([['TAG', 'ACCESS', 'FOLDER'], ...shares.map((s) => [s.tag, s.readOnly ? 'read-only' : 'read-write', s.path])]));
  },
});

const shareAdd = command({
  name: 'share add',
  lead: 1,
  args: [req('NAME'), req('DIR')],
  options: {
    tag: { type: 'string', value: 'T', help: "the name the guest mounts it by (default: the folder's name)" },
    'read-only': { type: 'boolean', help: 'the guest can read the folder but not change it' },
  },
  summary: 'share a host folder with the VM (applied at its next start)',
  details: 'In a Linux guest: mount -t virtiofs TAG /mnt (or, where the host has no virtiofsd: mount -t 9p -o trans=virtio TAG /mnt).\nThe folder is stored by its real path (symlinks resolved). While a VM runs with a share, its memory cannot be saved: no Save state or live snapshot.',
  async handler(ctx, [vm, dir], o) {
    const r = await (await ctx.client()).call('shares.add', {
      ref: vm,
      path: path.resolve(dir),
      ...(o.tag !== undefined ? { tag: o.tag } : {}),
      ...(o['read-only'] ? { readOnly: true } : {}),
    });
    const s = r.vm.config.shares?.at(-1);
    if (s) out(`Sharing ${s.path} with '${r.vm.name}' as '${s.tag}'${s.readOnly ? ' (read-only)' : ''}; in the guest: mount -t virtiofs ${s.tag} /mnt`);
    warn(r);
  },
});

const shareRemove = command({
  name: 'share remove',
  lead: 1,
  args: [req('NAME'), req('TAG')],
  options: {},
  summary: 'stop sharing a folder (applied at the next start)',
  async handler(ctx, [vm, tag]) {
    const r = await (await ctx.client()).call('shares.remove', { ref: vm, tag });
    out(`Removed shared folder '${tag}' from '${r.vm.name}'`);
    warn(r);
  },
});

export const shareCommands: CommandGroup = {
  name: 'share',
  title: 'Shared folders',
  commands: [shareList, shareAdd, shareRemove],
};
