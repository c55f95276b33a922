import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Two tiers: `unit` runs anywhere in seconds; `integration` boots real QEMU (TCG) guests and
 * drives real Chromium, one file at a time per process.
 *
 * `npm run test:split` (scripts/test.mjs) runs the integration files in two processes side by
 * side (one TCG guest keeps about one core busy); `npm test` runs them in one process, since
 * two guests at once on two cores pushed the load test and a host's boot past their guards. The files that
 * touch state shared by the whole machine — libvirt daemons and sshd in network namespaces,
 * bridges and taps, /etc/qemu/bridge.conf — are all in the `host` group, so they never run at
 * the same time as each other; a few self-contained files join them to even out the two
 * groups' run times. Every other file (and any new one) is in `guests`. `NESTBOX_TEST_GROUP`
 * picks a group; unset, the project holds every file (running one file by hand).
 */
const HOST_WIDE = [
  'test/integration/hosts.test.ts',
  'test/integration/hosts-move.test.ts',
  'test/integration/host-create.test.ts',
  'test/integration/libvirt-client.test.ts',
  'test/integration/libvirt-consoles.test.ts',
  'test/integration/libvirt-hosts-harness.test.ts',
  'test/integration/libvirt-migrate.test.ts',
  'test/integration/network.test.ts',
  'test/integration/network-modes.test.ts',
  'test/integration/clone-macs.test.ts',
  'test/integration/autostart.test.ts',
  'test/e2e/hosts.test.ts',
  'test/e2e/host-create.test.ts',
  'test/e2e/network.test.ts',
  'test/e2e/network-manager.test.ts',
];
/** Self-contained, in the `host` group only for balance (about half of the serial time each). */
const BALANCE = [
  'test/integration/monitor.test.ts',
  'test/integration/secureboot-tpm.test.ts',
  'test/integration/unattended.test.ts',
  'test/integration/import-foreign.test.ts',
];
const ALL = ['test/integration/**/*.test.ts', 'test/reliability/**/*.test.ts', 'test/e2e/**/*.test.ts'];

const group = process.env['NESTBOX_TEST_GROUP'];
if (group !== undefined && group !== 'host' && group !== 'guests') throw new Error(`NESTBOX_TEST_GROUP must be 'host' or 'guests', not '${group}'`);
const hostGroup = [...HOST_WIDE, ...BALANCE];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: group === 'host' ? hostGroup : ALL,
          exclude: group === 'guests' ? [...configDefaults.exclude, ...hostGroup] : configDefaults.exclude,
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
