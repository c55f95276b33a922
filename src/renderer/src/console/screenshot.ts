/** Saving the guest's screen (QMP screendump, via `vms.screenshot`) as a PNG download. */
import { base64ToBytes } from './base64';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** `<name>-<YYYY-MM-DD_HH-MM-SS>.png`, with characters no file system likes replaced. */
export function screenshotFileName(vmName: string, at: Date = new Date()): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  const safe = vmName.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').replace(/^[.\s]+|[.\s]+$/g, '') || 'screen';
  const date = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}_${pad(at.getHours())}-${pad(at.getMinutes())}-${pad(at.getSeconds())}`;
  return `${safe}-${date}.png`;
}

export function downloadPng(pngBase64: string, fileName: string): void {
  const url = URL.createObjectURL(new Blob([base64ToBytes(pngBase64)], { type: 'image/png' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has taken the bytes by the next tick; a generous delay costs nothing.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
