/**
 * A live or offline migration between two libvirt hosts, as a job: peer-to-peer, so the
 * source host's daemon dials the destination's (its `peerUri`) and this computer only starts
 * it and relays the progress. The checks of what may migrate are the HostService's
 * (hosts.ts); this is the job once they passed.
 *
 * While it runs, the VM's own events do not re-list either host (hostlink.ts `hold`): the
 * switch-over's events come just when the guest is paused, and re-listing then competes with
 * it for the CPUs. When virsh says it is done, the VM runs on the destination and is gone from
 * the source (`--undefinesource`), so both lists are set from that at once and the job ends;
 * the destination is re-listed afterwards, in the background, for the VM's state as libvirt
 * has it. A failed or cancelled migration re-lists both hosts before it ends.
 */
import type { JobInfo, MigrateResult, MigrateSpec, VmSummary } from '../api/contract';
import type { DomainSummary } from '../libvirt';
import { completedJobResult } from '../libvirt/parse';
import { NestboxError } from '../api/errors';
import { message, type HostLink, type HostLinkDeps } from './hostlink';

const MIGRATE_ADDR_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]+\])$/;

/** How long a finished migration waits for the destination's job-completed event before asking with domjobinfo. */
const COMPLETED_EVENT_WAIT_MS = 300;

/** A host's `migrateAddr`: where the destination takes migration data (null: libvirt's default). */
export function checkMigrateAddr(a: string | null | undefined): string | null {
  if (a === undefined || a === null || a === '') return null;
  if (!MIGRATE_ADDR_RE.test(a)) throw new NestboxError('INVALID_ARGUMENT', `'${a}' is not a host name or address for migration data`);
  return a;
}

/** Starts the migration job of `vm` from `src` to `dst` and marks the VM as migrating on `src` until it ends. */
export function startMigration(d: Pick<HostLinkDeps, 'jobs' | 'log'>, src: HostLink, dst: HostLink, vm: VmSummary, live: boolean, spec: MigrateSpec): JobInfo {
  const { maxDowntimeMs, bandwidthMiBps } = spec;
  if (src.migrations.has(vm.uuid)) throw new NestboxError('BUSY', `'${src.name}:${vm.name}' is already being migrated`);
  const destUri = dst.row.peerUri ?? dst.row.uri;
  const title = `Migrating ${src.name}:${vm.name} to ${dst.name}${live ? '' : ' (offline)'}`;
  const job = d.jobs.start(
    'migrate',
    title,
    `${src.name}:${vm.name}`,
    async (ctx): Promise<MigrateResult> => {
      const held = [src.hold(vm.name), dst.hold(vm.name)];
      const release = () => held.forEach((r) => r());
      try {
        d.log('info', 'migrate', `${title}${spec.copyStorage ? ', copying storage' : ''}`);
        const r = await src.connection().migrate(
          vm.name,
          destUri,
          {
            live,
            copyStorage: spec.copyStorage === true,
            ...(spec.unsafe === true ? { unsafe: true } : {}),
            ...(maxDowntimeMs !== undefined ? { maxDowntimeMs } : {}),
            ...(bandwidthMiBps !== undefined ? { bandwidthMiBps } : {}),
            ...(dst.row.migrateAddr ? { migrateUri: `tcp://${dst.row.migrateAddr}` } : {}),
            // The source daemon dials the peer URI; this computer reads the result and
            // cleans up through the URI it already uses for the destination.
            destClientUri: dst.row.uri,
            persistent: true,
            undefineSource: true,
            // libvirt's job-completed event (the hosts' event streams are open anyway) brings
            // its figures without another virsh: the source's comes with the end of the
            // migration call, the destination's (where libvirt sends one) with its finish.
            completedJob: async () => {
              const f = await firstOf([src.jobCompleted(vm.name, COMPLETED_EVENT_WAIT_MS), dst.jobCompleted(vm.name, COMPLETED_EVENT_WAIT_MS)]);
              const figures = f ? completedJobResult(f) : null;
              if (!figures) d.log('info', 'migrate', `no job-completed event from '${src.name}' or '${dst.name}' within ${COMPLETED_EVENT_WAIT_MS} ms; libvirt's figures are read with domjobinfo`);
              return figures;
            },
          },
          (p) => {
            const pct = p.dataTotal > 0 ? Math.min(99, (p.dataProcessed / p.dataTotal) * 100) : 0;
            ctx.migration({ dataTotal: p.dataTotal, dataProcessed: p.dataProcessed, dataRemaining: p.dataRemaining, dirtyRate: p.dirtyRate, elapsedMs: p.elapsedMs }, pct);
          },
          ctx.signal,
        );
        arrived(src, dst, vm, live);
        release();
        // libvirt's own word on the VM's state there; the job does not wait for it.
        dst.refresh().catch(() => undefined);
        const result: MigrateResult = { vm: vm.name, from: src.name, to: dst.name, live, elapsedMs: r.elapsedMs, downtimeMs: r.downtimeMs, dataBytes: r.dataBytes };
        d.log('info', 'migrate', `migrated '${vm.name}' from '${src.name}' to '${dst.name}' in ${(r.elapsedMs / 1000).toFixed(1)} s${r.downtimeMs !== null ? `, downtime ${r.downtimeMs} ms` : ''}`);
        return result;
      } catch (err) {
        release();
        await Promise.allSettled([src.refresh(), dst.refresh()]);
        if (!ctx.signal.aborted) d.log('error', 'migrate', `migrating '${vm.name}' from '${src.name}' to '${dst.name}' failed: ${message(err)}`);
        else d.log('info', 'migrate', `migration of '${vm.name}' from '${src.name}' to '${dst.name}' cancelled; it keeps running on '${src.name}'`);
        throw err;
      } finally {
        release();
        src.migrations.delete(vm.uuid);
      }
    },
    { vm: { uuid: vm.uuid, name: `${src.name}:${vm.name}` } },
  );
  src.migrations.set(vm.uuid, job.id);
  return job;
}

/**
 * What a successful peer-to-peer migration with `--persistent --undefinesource` leaves: the
 * domain defined on the destination, in the state it had (a live migration keeps a running
 * guest running and a paused one paused; an offline one moves a definition), and nothing on
 * the source.
 */
function arrived(src: HostLink, dst: HostLink, vm: VmSummary, live: boolean): void {
  const known = src.domain(vm.uuid);
  const state: DomainSummary['state'] = !live ? 'shutoff' : vm.state === 'paused' ? 'paused' : 'running';
  const d: DomainSummary = known
    ? { ...known, state, persistent: true, hasManagedSave: false }
    : { uuid: vm.uuid, name: vm.name, state, persistent: true, memoryKiB: vm.memoryMiB * 1024, vcpus: vm.cpus, hasManagedSave: false, osId: null };
  src.forget(vm.uuid);
  dst.adopt(d);
}

/** The first of `ps` to resolve to something other than null; null when all do. */
function firstOf<T>(ps: readonly Promise<T | null>[]): Promise<T | null> {
  return new Promise((resolve) => {
    let left = ps.length;
    for (const p of ps) {
      void p.then(
        (v) => {
          if (v !== null) resolve(v);
          else if (--left === 0) resolve(null);
        },
        () => {
          if (--left === 0) resolve(null);
        },
      );
    }
  });
}
