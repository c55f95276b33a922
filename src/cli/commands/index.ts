/**
 * The command table: every `nestbox` command, by group, in the order `nestbox --help` lists
 * them. A new group is a file here exporting a CommandGroup, added to this list.
 */
import type { CommandGroup } from '../command';
import { consoleCommands } from './console';
import { hostCommands } from './host';
import { libvirtHostCommands } from './hosts';
import { jobCommands } from './jobs';
import { lifecycleCommands } from './lifecycle';
import { mediaCommands } from './media';
import { networkCommands } from './network';
import { serverCommands } from './server';
import { shareCommands } from './shares';
import { snapshotCommands } from './snapshots';
import { statsCommands } from './stats';
import { vmCommands } from './vms';

export const COMMAND_GROUPS: readonly CommandGroup[] = [
  vmCommands,
  lifecycleCommands,
  snapshotCommands,
  consoleCommands,
  statsCommands,
  networkCommands,
  shareCommands,
  mediaCommands,
  jobCommands,
  hostCommands,
  libvirtHostCommands,
  serverCommands,
];
