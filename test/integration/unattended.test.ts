/**
 * Unattended setup of a cloud image, end to end: `nestbox create --unattended` with a cloud-
 * style test guest (test/guest/cloud-variant.sh: the busybox guest reading a NoCloud seed the
 * way cloud-init does). The seed CD is labelled cidata and holds only the password's hash;
 * the guest reports the user, host name and key it applied; when that first run stops the seed
 * is detached and deleted, the next boot finds none, and neither the password nor its hash is
 * anywhere under the data directory (every file: the database, its WAL, logs).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../src/core/api/contract';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { sha512Crypt } from '../../src/core/storage/crypt';
import { IsoReader } from '../../src/core/storage/iso9660';
import { DataLayout } from '../../src/core/store/paths';
import { cleanupHome, cli, openCore, ROOT, tempHome, testIso, waitForFile, waitForState } from './helpers';

const NAME = 'cloud';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKmRLf4Cgm6VslWGWgSCkHcjqnMu0jhH3z2M1KgYlYkc alice@laptop';

/** Every file under `dir` whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const n = Buffer.from(needle);
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(n)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

describe('unattended setup of a cloud image (NoCloud seed)', () => {
  let home: string;
  let scratch: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let image: string;
  const password = `pw-${crypto.randomBytes(9).toString('base64url')}`;

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-cloud-'));
    image = execFileSync('bash', [path.join(ROOT, 'test/guest/cloud-variant.sh'), testIso(), scratch], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim().split('\n').pop()!;
    if (!fs.existsSync(image)) throw new Error(`test/guest/cloud-variant.sh did not make the cloud guest (said: ${image})`);
    if (process.getuid?.() === 0) {
      // As root, QEMU runs as an unprivileged user: the disk (used in place) must be open to it.
      fs.chmodSync(scratch, 0o755);
      fs.chmodSync(image, 0o666);
    }
    fs.writeFileSync(path.join(scratch, 'password'), `${password}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(scratch, 'key.pub'), `${KEY}\n`);
    home = tempHome();
    ({ hosted, client } = await openCore(home));
  }, 120_000);
  afterAll(async () => {
    await client?.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted?.close();
    if (home) await cleanupHome(home);
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('seeds the first boot, the guest applies user, key and host name, and the seed is gone after that run', async () => {
    const created = await cli(home, [
      'create', NAME, '--os-type', 'linux-other', '--memory', '256', '--cpus', '1', '--disk', image, '--nic', 'none',
      '--unattended', '--user', 'alice', '--password-file', path.join(scratch, 'password'), '--hostname', 'cloudy', '--ssh-key', path.join(scratch, 'key.pub'),
    ]);
    expect(created.code, created.stderr).toBe(0);

    // The seed: a second CD labelled cidata with user-data and meta-data, the hash and never the password.
    const vm: VmInfo = await client.call('vms.info', { ref: NAME });
    const seedCd = vm.config.cdroms.find((c) => c.id === 'seed');
    expect(seedCd?.iso).toBeTruthy();
    expect(vm.config.install).toMatchObject({ kind: 'cloud', seedCdrom: 'seed', booted: false });
    const r = IsoReader.open(seedCd!.iso!);
    let hash: string;
    try {
      expect(r.volumeId).toBe('cidata');
      expect(r.list('/').map((e) => e.name).sort()).toEqual(['meta-data', 'user-data']);
      const ud = r.readFile('/user-data')!.toString();
      expect(ud).not.toContain(password);
      hash = /^ {4}passwd: "(.*)"$/m.exec(ud)![1]!;
      expect(r.readFile('/meta-data')!.toString()).toMatch(/^instance-id: "nestbox-[0-9a-f-]+"\nlocal-hostname: "cloudy"\n$/);
    } finally {
      r.close();
    }
    expect(sha512Crypt(password, hash.split('$')[2])).toBe(hash);

    // First boot: the guest finds the seed and applies it.
    const started = await client.call('vms.start', { ref: NAME });
    const log = await waitForFile(started.vm.serialLog, /NESTBOX-CLOUD\S*[^\n]*\n/, 150_000);
    const line = /NESTBOX-CLOUD user=(\S*) host=(\S*) key=(.*) hashsum=([0-9a-f]{64})/.exec(log);
    expect(line, log.slice(-2000)).not.toBeNull();
    expect(line![1]).toBe('alice');
    expect(line![2]).toBe('cloudy');
    expect(line![3]!.trim()).toBe(KEY);
    expect(line![4]).toBe(crypto.createHash('sha256').update(hash).digest('hex'));
    expect((await client.call('vms.info', { ref: NAME })).config.install?.booted).toBe(true);

    // The run ends: the seed is detached and deleted.
    await client.call('vms.powerOff', { ref: NAME });
    await waitForState(client, NAME, 'poweredOff');
    const after: VmInfo = await client.call('vms.info', { ref: NAME });
    expect(after.config.install).toBeUndefined();
    expect(after.config.cdroms.map((c) => c.id)).toEqual(['cd0']);
    expect(fs.existsSync(seedCd!.iso!)).toBe(false);
    const events = await client.call('events.recent', { ref: NAME, limit: 50 });
    expect(events.map((e) => e.message).join('\n')).toMatch(/unattended install of 'cloud' ended.*seed was detached and deleted/);

    // The next boot has no seed.
    const again = await client.call('vms.start', { ref: NAME });
    await waitForFile(again.vm.serialLog, /NESTBOX-CLOUD-NOSEED/, 150_000);
    await client.call('vms.powerOff', { ref: NAME });
    await waitForState(client, NAME, 'poweredOff');

    // Neither the password nor its hash is anywhere under the data directory.
    await hosted.close();
    expect(filesContaining(home, password)).toEqual([]);
    expect(filesContaining(home, hash)).toEqual([]);
    ({ hosted, client } = await openCore(home));
  }, 420_000);

  it("refuses Secure Boot for a Debian installer booted directly, saying how to have it after the install, and makes nothing", async () => {
    const before = (await client.call('vms.list', {})).length;
    await expect(
      client.call('vms.create', {
        name: 'deb-sb', osType: 'linux-debian', memoryMiB: 1024, cpus: 1, diskSize: '8G', firmware: 'uefi', secureBoot: true, iso: testIso(),
        unattended: { user: 'alice', password: 'correct horse battery' },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/Secure Boot refuses it.*--secure-boot on/) });
    expect((await client.call('vms.list', {})).length).toBe(before);
    const machines = new DataLayout(home).machinesDir;
    expect(fs.existsSync(machines) ? fs.readdirSync(machines).filter((f) => f.startsWith('deb-sb')) : []).toEqual([]);
  });
});
