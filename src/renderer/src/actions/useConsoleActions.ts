/** The console's actions: the serial log and the keys sent to the screen. */
import { useActions } from './bind';

const CONSOLE_ACTIONS = {
  serialLog: 'console.serialLog',
  write: 'console.write',
  sendKeys: 'vms.sendKeys',
  screenshot: 'vms.screenshot',
} as const;

export function useConsoleActions() {
  return useActions(CONSOLE_ACTIONS);
}
