/**
 * A share's virtiofsd command: a read-write share runs virtiofsd itself; a read-only one first
 * gets a read-only bind mount in a mount namespace of its own. The folder is always the
 * sandbox's root (the guest sees no more).
 */
import { describe, expect, it } from 'vitest';
import { virtiofsdFiles } from '../../../../src/core/qemu/argv';
import { buildVirtiofsdCommand, fuseOpt } from '../../../../src/core/qemu/virtiofsd';

const BIN = '/usr/lib/qemu/virtiofsd';
const RUN = '/run/nestbox-qemu/0b3c9f2e';
const RW = { tag: 'projects', path: '/home/ada/projects', readOnly: false } as const;
const RO = { tag: 'isos', path: '/srv/isos, old\\x', readOnly: true } as const;

describe('buildVirtiofsdCommand', () => {
  it('runs virtiofsd itself for a read-write share as root, sandboxed into the folder', () => {
    const c = buildVirtiofsdCommand(BIN, RW, RUN);
    expect(c.file).toBe(BIN);
    expect(c.args).toEqual([`--socket-path=${virtiofsdFiles(RUN, 'projects').socket}`, '-o', 'source=/home/ada/projects', '-o', 'sandbox=namespace', '-o', 'cache=auto', '-f']);
  });

  it('makes a read-only share read-only with a bind mount in its own mount namespace, the folder passed as an argument', () => {
    const c = buildVirtiofsdCommand(BIN, RO, RUN);
    expect(c.file).toBe('unshare');
    expect(c.args.slice(0, 4)).toEqual(['--mount', '--propagation', 'private', '--']);
    expect(c.args.slice(4, 7)).toEqual(['sh', '-c', 'mount --bind -o ro "$0" "$0" && exec "$@"']);
    // The path is never part of the script: it is $0, verbatim.
    expect(c.args[7]).toBe(RO.path);
    expect(c.args[8]).toBe(BIN);
    expect(c.args).toContain(`source=${fuseOpt(RO.path)}`);
    expect(fuseOpt(RO.path)).toBe('/srv/isos\\, old\\\\x');
  });
});
