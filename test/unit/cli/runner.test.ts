/** The CLI runner against the real command table: usage errors exit 2 with the usage, help is generated. */
import { describe, expect, it } from 'vitest';
import { COMMAND_GROUPS } from '../../../src/cli/commands';
import { runCommandLine, type RunnerIo } from '../../../src/cli/runner';

async function run(argv: readonly string[]): Promise<{ code: number; out: string; err: string; connected: number }> {
  let out = '';
  let err = '';
  let connected = 0;
  const io: RunnerIo = {
    out: (s) => (out += `${s}\n`),
    err: (s) => (err += `${s}\n`),
    defaultHome: () => '/nonexistent/nestbox-home',
    connect: () => {
      connected++;
      return Promise.reject(new Error('no core in this test'));
    },
  };
  const code = await runCommandLine(COMMAND_GROUPS, argv, io);
  return { code, out, err, connected };
}

describe('nestbox usage errors', () => {
  it('a missing argument is exit 2 naming it, with the usage, and never reaches the core', async () => {
    const r = await run(['create']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^nestbox: missing NAME\nusage: nestbox create NAME \[--os-type T\]/);
    expect(r.connected).toBe(0);
    const s = await run(['snapshot', 'vm', 'take']);
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/missing SNAP\nusage: nestbox snapshot NAME take SNAP/);
  });

  it('an extra argument is exit 2 naming it, with the usage', async () => {
    const r = await run(['start', 'a', 'b']);
    expect(r.code).toBe(2);
    expect(r.err).toBe("nestbox: unexpected argument 'b'\nusage: nestbox start NAME\n");
    expect(r.connected).toBe(0);
  });

  it("an option of another command is unknown here: exit 2 naming it", async () => {
    const r = await run(['list', '--memory', '5']);
    expect(r.code).toBe(2);
    expect(r.err).toBe("nestbox: unknown option '--memory'\nusage: nestbox list [--json] [--host HOST|local]\n");
    const s = await run(['poweroff', 'vm', '--bogus']);
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/unknown option '--bogus'/);
  });

  it('an unknown command or action is exit 2', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command 'frobnicate'/);
    const a = await run(['portforward', 'vm', 'frob']);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/unknown portforward action 'frob' \(list, add, remove, ssh\)/);
  });

  it('optional arguments before a required one bind from the right (link NAME [NIC] on|off)', async () => {
    // Both reach the core: the arguments bound.
    expect((await run(['link', 'vm', 'on'])).connected).toBe(1);
    expect((await run(['link', 'vm', 'net0', 'off'])).connected).toBe(1);
    expect((await run(['link', 'vm', 'net0', 'off', 'x'])).code).toBe(2);
  });

  it('a handler usage error (bad value) is exit 2 without touching the core', async () => {
    const r = await run(['create', 'x', '--firmware', 'coreboot']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('nestbox: --firmware must be bios or uefi\n');
    expect(r.connected).toBe(0);
  });

  it('create --host with Secure Boot, a TPM or an automatic install is exit 2 saying a host cannot do that yet, before anything is sent', async () => {
    for (const [argv, flag] of [
      [['--secure-boot', 'on'], '--secure-boot'],
      [['--tpm', 'on'], '--tpm'],
      [['--unattended', '--user', 'me', '--password-file', '/nonexistent/pw'], '--unattended'],
      [['--user', 'me'], '--user'],
    ] as const) {
      const r = await run(['create', 'x', '--host', 'lab', '--iso-volume', 'default/a.iso', ...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(new RegExp(`^nestbox: ${flag}.*: a libvirt host cannot do that yet`));
      expect(r.connected, argv.join(' ')).toBe(0);
    }
    const bad = await run(['create', 'x', '--host', 'lab', '--tpm', 'maybe']);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('nestbox: --tpm must be on or off\n');
    // Off is what a host's VM gets anyway: the request goes to the core.
    expect((await run(['create', 'x', '--host', 'lab', '--secure-boot', 'off', '--tpm', 'off'])).connected).toBe(1);
    // On this computer the same options reach the core.
    expect((await run(['create', 'x', '--secure-boot', 'on', '--tpm', 'on'])).connected).toBe(1);
  });

  it('a failed operation is exit 1', async () => {
    const r = await run(['list']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('nestbox: no core in this test\n');
  });
});

describe('nestbox help', () => {
  it('--help and help list every command of every group; no command is exit 2 with the same text', async () => {
    const a = await run(['--help']);
    const b = await run(['help']);
    const c = await run([]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(c.code).toBe(2);
    expect(b.out).toBe(a.out);
    expect(c.out).toBe(a.out);
    for (const g of COMMAND_GROUPS) {
      expect(a.out).toContain(`${g.title}:`);
      for (const cmd of g.commands) expect(a.out).toContain(cmd.summary);
    }
  });

  it('help GROUP shows each command of the group with its options, for every group', async () => {
    for (const g of COMMAND_GROUPS) {
      const r = await run(['help', g.name]);
      expect(r.code, g.name).toBe(0);
      for (const cmd of g.commands) {
        expect(r.out).toContain(cmd.summary);
        for (const [name, o] of Object.entries(cmd.options)) expect(r.out, `${cmd.name} --${name}`).toContain(o.help);
      }
    }
    expect((await run(['help', 'disk'])).out).toContain('nestbox media list');
    expect((await run(['help', 'nope'])).code).toBe(2);
  });

  it('CMD --help shows the command, also with missing arguments, and does not run it', async () => {
    const r = await run(['snapshot', 'vm', 'take', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: nestbox snapshot NAME take SNAP \[--description TEXT\]/);
    expect(r.connected).toBe(0);
    const g = await run(['media', '--help']);
    expect(g.code).toBe(0);
    expect(g.out).toContain('nestbox media convert SRC DST');
  });

  it('disk is media', async () => {
    const r = await run(['disk', 'info']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing IMAGE\nusage: nestbox media info IMAGE/);
  });
});
