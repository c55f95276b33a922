/**
 * NAT port forwarding against the test guest's web server: rules added and removed while the
 * VM runs (no restart), applied at start from the config, conflicts refused before anything
 * changes, and the virtual cable unplugged and plugged back.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { cleanupHome, cli, openCore, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'net-vm';

function get(port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function until<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe('NAT port forwarding', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let port: number;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, noDisk: true, iso: testIso() });
    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-NET-UP/);
    port = await freePort();
  });
  afterAll(async () => {
    await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('adds a rule while the VM runs, bound to 127.0.0.1, and the guest answers through it', async () => {
    const r = await client.call('network.addForward', { ref: NAME, rule: { name: 'web', hostPort: port, guestPort: 80 } });
    expect(r.vm.config.nics[0]!.forwards).toEqual([{ name: 'web', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestAddress: '', guestPort: 80 }]);
    expect(await until(() => get(port))).toContain('nestbox test guest');
    const listed = await cli(home, ['portforward', NAME, 'list']);
    expect(listed.stdout).toMatch(new RegExp(`web\\s+net0\\s+tcp\\s+127\\.0\\.0\\.1:${port}\\s+\\(guest\\):80`));
  });

  it('refuses conflicts before changing anything', async () => {
    await expect(client.call('network.addForward', { ref: NAME, rule: { name: 'web', hostPort: port + 1, guestPort: 80 } })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(client.call('network.addForward', { ref: NAME, rule: { name: 'again', hostPort: port, guestPort: 81 } })).rejects.toThrow(/already forwarded by rule 'web'/);
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    const taken = (squatter.address() as net.AddressInfo).port;
    await expect(client.call('network.addForward', { ref: NAME, rule: { name: 'busy', hostPort: taken, guestPort: 80 } })).rejects.toThrow(`TCP port ${taken} on 127.0.0.1 is already in use`);
    squatter.close();
    await expect(client.call('network.addForward', { ref: NAME, rule: { name: 'bad', hostPort: 70000, guestPort: 80 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await client.call('vms.info', { ref: NAME })).config.nics[0]!.forwards.map((f) => f.name)).toEqual(['web']);
  });

  it('unplugs and plugs the virtual cable', async () => {
    await client.call('network.setLink', { ref: NAME, connected: false });
    await expect(get(port, 1500)).rejects.toThrow();
    await client.call('network.setLink', { ref: NAME, connected: true });
    expect(await until(() => get(port))).toContain('nestbox test guest');
  });

  it('applies stored rules at start, and removes a rule while the VM runs', async () => {
    await client.call('vms.powerOff', { ref: NAME });
    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-NET-UP/, 90_000, 2);
    expect(await until(() => get(port))).toContain('nestbox test guest');
    await client.call('network.removeForward', { ref: NAME, name: 'web' });
    await expect(get(port, 1500)).rejects.toThrow();
    expect((await client.call('vms.info', { ref: NAME })).config.nics[0]!.forwards).toEqual([]);
  });
});
