/**
 * Base64 for console bytes. The renderer has no Node `Buffer`, and `atob`/`btoa` work on
 * "binary strings" that cost a string per frame; framebuffer updates are megabytes, so this
 * goes straight between bytes and text with lookup tables.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ENCODE = new Uint8Array(64);
/** 255 marks a byte that is not part of the alphabet (skipped: whitespace, line breaks). */
const DECODE = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) {
  const c = ALPHABET.charCodeAt(i);
  ENCODE[i] = c;
  DECODE[c] = i;
}
// The URL-safe alphabet decodes too; nothing here produces it.
DECODE['-'.charCodeAt(0)] = 62;
DECODE['_'.charCodeAt(0)] = 63;

const PAD = '='.charCodeAt(0);
const CHUNK = 0x6000; // characters per String.fromCharCode call, well under argument limits

export function bytesToBase64(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out[o++] = ENCODE[v >> 18] as number;
    out[o++] = ENCODE[(v >> 12) & 63] as number;
    out[o++] = ENCODE[(v >> 6) & 63] as number;
    out[o++] = ENCODE[v & 63] as number;
  }
  if (i < n) {
    const b0 = bytes[i] as number;
    const b1 = i + 1 < n ? (bytes[i + 1] as number) : 0;
    const v = (b0 << 16) | (b1 << 8);
    out[o++] = ENCODE[v >> 18] as number;
    out[o++] = ENCODE[(v >> 12) & 63] as number;
    out[o++] = i + 1 < n ? (ENCODE[(v >> 6) & 63] as number) : PAD;
    out[o++] = PAD;
  }
  let s = '';
  for (let k = 0; k < out.length; k += CHUNK) s += String.fromCharCode(...out.subarray(k, k + CHUNK));
  return s;
}

/** Decodes standard (or URL-safe) base64; padding is optional, other characters are skipped. */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === PAD) break;
    const v = c < 256 ? (DECODE[c] as number) : 255;
    if (v === 255) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.slice(0, o);
}

const encoder = new TextEncoder();

/** Text typed into a terminal, as UTF-8 base64 for `console.write`. */
export function textToBase64(text: string): string {
  return bytesToBase64(encoder.encode(text));
}
