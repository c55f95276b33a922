/**
 * Writing to the clipboard from the renderer. `navigator.clipboard` exists only in secure
 * contexts (Electron's app origin, https, localhost), and web mode may be served over plain
 * http on a LAN address; there the caller shows the text selected for the user to copy.
 */

/** True when the text is on the clipboard; false when the user has to copy it by hand. */
export async function copyText(text: string): Promise<boolean> {
  const clip = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
  if (!clip || typeof window === 'undefined' || !window.isSecureContext) return false;
  try {
    await clip.writeText(text);
    return true;
  } catch {
    // Denied (no user activation, a permission policy): the manual path still works.
    return false;
  }
}

export function copyShortcut(): string {
  const platform = typeof navigator !== 'undefined' ? navigator.platform : '';
  return /Mac|iPhone|iPad/.test(platform) ? '⌘C' : 'Ctrl+C';
}
