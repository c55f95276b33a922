/**
 * Text to key presses, for "Type as keystrokes": QEMU's VNC server passes clipboard text
 * only to a guest with a clipboard agent, but every guest reads its keyboard. Characters of
 * a US keyboard go as physical keys (QEMU's extended key events, so QEMU's own keymap is not
 * involved) with Shift where the character needs it; anything else goes as its X keysym.
 */

export interface KeyStroke {
  readonly keysym: number;
  /** `KeyboardEvent.code` of the physical key, or null to send the keysym alone. */
  readonly code: string | null;
  readonly shift: boolean;
}

export const XK_SHIFT_L = 0xffe1;
const XK_RETURN = 0xff0d;
const XK_TAB = 0xff09;

/** US layout: unshifted and shifted character of each punctuation key. */
const PUNCTUATION: readonly (readonly [string, string, string])[] = [
  ['Backquote', '`', '~'],
  ['Minus', '-', '_'],
  ['Equal', '=', '+'],
  ['BracketLeft', '[', '{'],
  ['BracketRight', ']', '}'],
  ['Backslash', '\\', '|'],
  ['Semicolon', ';', ':'],
  ['Quote', "'", '"'],
  ['Comma', ',', '<'],
  ['Period', '.', '>'],
  ['Slash', '/', '?'],
];
const SHIFTED_DIGITS = ')!@#$%^&*(';

const TABLE = new Map<string, { readonly code: string; readonly shift: boolean }>();
for (let c = 0; c < 26; c++) {
  const lower = String.fromCharCode(97 + c);
  const code = `Key${lower.toUpperCase()}`;
  TABLE.set(lower, { code, shift: false });
  TABLE.set(lower.toUpperCase(), { code, shift: true });
}
for (let d = 0; d < 10; d++) {
  TABLE.set(String(d), { code: `Digit${d}`, shift: false });
  TABLE.set(SHIFTED_DIGITS[d] as string, { code: `Digit${d}`, shift: true });
}
for (const [code, plain, shifted] of PUNCTUATION) {
  TABLE.set(plain, { code, shift: false });
  TABLE.set(shifted, { code, shift: true });
}
TABLE.set(' ', { code: 'Space', shift: false });

/** The keysym of a Unicode character (X11: Latin-1 as is, the rest at 0x01000000 + code point). */
export function keysymOf(codePoint: number): number {
  if ((codePoint >= 0x20 && codePoint <= 0x7e) || (codePoint >= 0xa0 && codePoint <= 0xff)) return codePoint;
  return 0x01000000 + codePoint;
}

export function keystrokesFor(text: string): KeyStroke[] {
  const out: KeyStroke[] = [];
  for (const ch of text.replace(/\r\n?/g, '\n')) {
    if (ch === '\n') {
      out.push({ keysym: XK_RETURN, code: 'Enter', shift: false });
      continue;
    }
    if (ch === '\t') {
      out.push({ keysym: XK_TAB, code: 'Tab', shift: false });
      continue;
    }
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x20 || cp === 0x7f) continue;
    const k = TABLE.get(ch);
    out.push({ keysym: keysymOf(cp), code: k?.code ?? null, shift: k?.shift ?? false });
  }
  return out;
}
