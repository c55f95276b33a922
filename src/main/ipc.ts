/**
 * Main's edge of the IPC contract (ipc-contract.ts): every payload from a renderer is parsed
 * with zod before main acts on it, and every handler goes through one wrapper that first
 * checks the sender (our own UI, in its top frame). Unknown keys are dropped, so nothing a
 * page adds reaches a native dialog.
 */
import { z } from 'zod';
import {
  CHOOSE_FILE_CHANNEL,
  OPEN_CONSOLE_CHANNEL,
  type ChooseFileParams,
  type InvokeChannel,
  type OpenConsoleParams,
  type RendererToMainInvoke,
  type RendererToMainSend,
  type SendChannel,
} from './ipc-contract';
import { isTrustedSender } from './security';

export { MENU_CHANNEL, PORT_CHANNEL, CHOOSE_FILE_CHANNEL, OPEN_CONSOLE_CHANNEL } from './ipc-contract';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const openConsoleSchema = z.object({ uuid: z.string().regex(UUID_RE), name: z.string().max(64) });
const fileFilterSchema = z.object({
  name: z.string().max(100),
  extensions: z.array(z.string().regex(/^[A-Za-z0-9*]{1,10}$/)).max(32),
});
/** The filters are checked one by one below, so a bad one gets its own message. */
const chooseFileSchema = z.object({ title: z.string().max(200), filters: z.array(z.unknown()).max(10) });

export function validateOpenConsoleParams(v: unknown): OpenConsoleParams {
  const r = openConsoleSchema.safeParse(v);
  if (!r.success) throw new Error('invalid open-console request');
  return r.data;
}

export function validateChooseFileParams(v: unknown): ChooseFileParams {
  const r = chooseFileSchema.safeParse(v);
  if (!r.success) throw new Error('invalid choose-file request');
  const filters = r.data.filters.map((f) => {
    const ff = fileFilterSchema.safeParse(f);
    if (!ff.success) throw new Error('invalid file filter');
    return ff.data;
  });
  return { title: r.data.title, filters };
}

/** The part of an Electron IPC event the sender check needs. */
export interface IpcEventLike {
  readonly sender: { readonly mainFrame: unknown };
  readonly senderFrame?: { readonly url: string } | null;
}

/** The part of ipcMain the wrappers use (Electron's, or a test's). */
export interface IpcMainLike<E extends IpcEventLike> {
  handle(channel: string, listener: (event: E, ...args: unknown[]) => unknown): void;
  on(channel: string, listener: (event: E, ...args: unknown[]) => void): void;
}

export function isTrustedEvent(event: IpcEventLike): boolean {
  const frame = event.senderFrame ?? null;
  return isTrustedSender(frame?.url, frame !== null && frame === event.sender.mainFrame);
}

/** Each channel's payload parser; a channel without one cannot be registered. */
const INVOKE_PARSERS: { readonly [C in InvokeChannel]: (raw: unknown) => RendererToMainInvoke[C]['params'] } = {
  [CHOOSE_FILE_CHANNEL]: validateChooseFileParams,
};
const SEND_PARSERS: { readonly [C in SendChannel]: (raw: unknown) => RendererToMainSend[C] } = {
  [OPEN_CONSOLE_CHANNEL]: validateOpenConsoleParams,
};

/** Answers `channel` for trusted senders with parsed params; anything else is refused. */
export function handleInvoke<C extends InvokeChannel, E extends IpcEventLike>(
  ipc: IpcMainLike<E>,
  channel: C,
  handler: (params: RendererToMainInvoke[C]['params'], event: E) => Promise<RendererToMainInvoke[C]['result']> | RendererToMainInvoke[C]['result'],
): void {
  // async: a refusal reaches the renderer as a rejected invoke, never as a throw in main.
  ipc.handle(channel, async (event, raw) => {
    if (!isTrustedEvent(event)) throw new Error('untrusted sender');
    return handler(INVOKE_PARSERS[channel](raw), event);
  });
}

/** Acts on `channel` for trusted senders with a parsed payload; anything else is dropped. */
export function handleSend<C extends SendChannel, E extends IpcEventLike>(ipc: IpcMainLike<E>, channel: C, handler: (payload: RendererToMainSend[C], event: E) => void): void {
  ipc.on(channel, (event, raw) => {
    if (!isTrustedEvent(event)) return;
    let payload: RendererToMainSend[C];
    try {
      payload = SEND_PARSERS[channel](raw);
    } catch {
      return; // a fire-and-forget message has no one to answer
    }
    handler(payload, event);
  });
}
