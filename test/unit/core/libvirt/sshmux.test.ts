/**
 * The SSH multiplexing wrapper (sshmux.ts): which URIs get one, what the URI virsh sees looks
 * like, and what the wrapper really runs — executed with a stand-in for ssh that prints the
 * arguments it was given, the way libvirt's ssh transport calls it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MUX_PERSIST_S, muxedUri } from '../../../../src/core/libvirt/sshmux';
import { parseLibvirtUri } from '../../../../src/core/libvirt/streams';

describe('sharing one SSH connection per host', () => {
  let work: string;
  let dir: string;
  let fakeSsh: string;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-sshmux-'));
    dir = path.join(work, 'run', 'ssh');
    // A path with a space and a quote: the wrapper must hand it to the shell as one word.
    fakeSsh = path.join(work, "my ssh's");
    fs.writeFileSync(fakeSsh, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n', { mode: 0o755 });
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('leaves every URI but an SSH one as it is, and writes nothing for them', () => {
    for (const uri of ['qemu:///system', 'qemu+unix:///system?socket=/run/x.sock', 'qemu+tls://host/system', 'qemu+tcp://host/system', 'not a uri']) {
      expect(muxedUri(uri, dir)).toBe(uri);
    }
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('points an SSH URI at a private wrapper, keeping its other parameters', () => {
    const uri = 'qemu+ssh://admin@server.example:2222/system?keyfile=/home/me/.ssh/id&no_tty=1';
    const muxed = muxedUri(uri, dir);
    const p = parseLibvirtUri(muxed);
    expect(p).toMatchObject({ transport: 'ssh', user: 'admin', host: 'server.example', port: '2222' });
    expect(p.params.get('keyfile')).toBe('/home/me/.ssh/id');
    expect(p.params.get('no_tty')).toBe('1');
    const wrapper = p.params.get('command')!;
    expect(path.dirname(wrapper)).toBe(dir);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(wrapper).mode & 0o777).toBe(0o700);
    // The same URI again: the same wrapper; another user or key: another wrapper and master.
    expect(muxedUri(uri, dir)).toBe(muxed);
    const other = parseLibvirtUri(muxedUri('qemu+ssh://root@server.example:2222/system?keyfile=/home/me/.ssh/id&no_tty=1', dir)).params.get('command');
    expect(other).not.toBe(wrapper);
    expect(fs.readdirSync(dir).filter((n) => !n.endsWith('.tmp'))).toHaveLength(2);
  });

  it('runs the URI’s own command with the multiplexing options before libvirt’s arguments', () => {
    const uri = `qemu+ssh://root@beta/system?command=${encodeURIComponent(fakeSsh)}&no_tty=1`;
    const wrapper = parseLibvirtUri(muxedUri(uri, dir)).params.get('command')!;
    // As libvirt's transport calls its ssh: its options, then the host and the remote command.
    const libvirtArgs = ['-l', 'root', '-T', '-o', 'BatchMode=yes', '-e', 'none', '--', 'beta', 'sh', '-c', "'echo $HOME; nc -U /run/libvirt/libvirt-sock'"];
    const got = execFileSync(wrapper, libvirtArgs, { encoding: 'utf8' }).split('\n').slice(0, -1);
    const control = path.join(dir, `${path.basename(wrapper).slice('ssh-'.length)}.cm`);
    expect(got).toEqual([
      '-o',
      `ControlPath=${control}`,
      '-o',
      'ControlMaster=auto',
      '-o',
      `ControlPersist=${MUX_PERSIST_S}`,
      '-o',
      'ServerAliveInterval=5',
      '-o',
      'ServerAliveCountMax=3',
      ...libvirtArgs,
    ]);
  });

  it('uses plain ssh when the URI names no command', () => {
    const wrapper = parseLibvirtUri(muxedUri('qemu+ssh://root@gamma/system', dir)).params.get('command')!;
    expect(fs.readFileSync(wrapper, 'utf8')).toMatch(/^exec 'ssh' -o /m);
  });
});
