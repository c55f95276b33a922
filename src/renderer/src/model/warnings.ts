/**
 * Which of the core's warnings the UI does not repeat as a toast. The core attaches the
 * accelerator note ("using TCG software emulation (slow): …") to every start; the Manager's
 * status bar already says it, with the note as its tooltip, and a toast for each start sat
 * over the dialogs' buttons (the wizard's Next) for twelve seconds. So it is said once, there.
 */
const ACCELERATOR_NOTE = /^using TCG software emulation\b/;

export function isAcceleratorNote(message: string): boolean {
  return ACCELERATOR_NOTE.test(message.trim());
}
