/** Console streams (serial, VNC) of the calling client, and the logs on disk. */
import { readSerialLog } from '../consoles';
import type { HandlerGroup } from './types';

export const consoleHandlers = {
  'console.open': ({ ref, channel, stream }, { session }) => session.consoles.open(ref, channel, stream),
  'console.write': ({ stream, data }, { session }) => session.consoles.write(stream, data),
  'console.close': ({ stream }, { session }) => session.consoles.close(stream),
  'console.serialLog': ({ ref, query, maxBytes }, { core }) => readSerialLog(core.vms.info(ref).serialLog, query || undefined, maxBytes),
  'vms.qemuLog': ({ ref, query, maxBytes }, { core }) => readSerialLog(core.vms.info(ref).qemuLog, query || undefined, maxBytes),
} satisfies HandlerGroup;
