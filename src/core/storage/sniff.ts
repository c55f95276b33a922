/**
 * Is a file that no header names really a raw disk? Anything unrecognised used to become one
 * (a `.vbox`, a 6-byte note). A raw image is whole 512-byte sectors and does not begin like a
 * document; a refusal says what the file looks like and, when Nestbox imports it another
 * way, how.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';

const MAGICS: readonly (readonly [string, Buffer, number])[] = [
  ['a gzip archive', Buffer.from([0x1f, 0x8b]), 0],
  ['a zip archive (or an Office document)', Buffer.from('PK\x03\x04', 'latin1'), 0],
  ['a 7-Zip archive', Buffer.from('7z\xbc\xaf\x27\x1c', 'latin1'), 0],
  ['an xz archive', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), 0],
  ['a bzip2 archive', Buffer.from('BZh', 'latin1'), 0],
  ['a zstd archive', Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 0],
  ['a RAR archive', Buffer.from('Rar!', 'latin1'), 0],
  ['a PDF document', Buffer.from('%PDF', 'latin1'), 0],
  ['a binary property list', Buffer.from('bplist', 'latin1'), 0],
  ['an ELF program', Buffer.from('\x7fELF', 'latin1'), 0],
  ['a tar archive', Buffer.from('ustar', 'latin1'), 257],
];

/** What the start of a file looks like, when it looks like something other than a disk. */
export function looksLike(head: Buffer): string | null {
  for (const [what, magic, at] of MAGICS) if (head.length >= at + magic.length && head.subarray(at, at + magic.length).equals(magic)) return what;
  const text = head.subarray(0, 4096).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (/^<\?xml|^<[A-Za-z!]/.test(text)) {
    if (/<VirtualBox[\s>]/.test(text)) return 'a VirtualBox machine file (.vbox)';
    if (/<domain[\s>]/.test(text)) return 'a libvirt domain XML';
    if (/<plist[\s>]/.test(text)) return 'a property list (plist)';
    if (/<Envelope[\s>]/.test(text)) return 'an OVF descriptor';
    return /<html/i.test(text) ? 'an HTML page' : 'an XML document';
  }
  if (/^[{[]/.test(text) && /^[\t\n\r -~]*$/.test(text.slice(0, 256))) return 'JSON text';
  // Printable text with no NUL in the first sector: a note, a script, a config file.
  const first = head.subarray(0, 512);
  if (first.length > 0 && !first.includes(0) && /^[\t\n\r -~\u00a0-\uffff]*$/.test(first.toString('utf8'))) return 'a text file';
  return null;
}

/** How a refused file can be imported another way, when it can. */
function hint(what: string): string {
  if (what.startsWith('a VirtualBox')) return `; Nestbox does not read .vbox files yet: export the machine from VirtualBox as an OVA (File › Export Appliance) and import that`;
  if (what.startsWith('a libvirt')) return `; Nestbox does not read domain XML yet: import the disk it names (its <source file=…>) with 'nestbox import DISK --firmware … --disk-bus …' matching its <os> and <target bus=…>`;
  if (what.startsWith('an OVF')) return `; name it .ovf so Nestbox reads it as an appliance descriptor`;
  return '';
}

/**
 * Refuses a file that was about to be taken as a raw disk but cannot be one. Reads at most
 * 4 KiB from the start (never follows into anything else).
 */
export function requirePlausibleRaw(file: string): void {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  try {
    const st = fs.fstatSync(fd);
    const head = Buffer.alloc(Math.min(4096, st.size));
    fs.readSync(fd, head, 0, head.length, 0);
    const name = path.basename(file);
    const what = looksLike(head);
    if (what) throw new NestboxError('IMAGE_REJECTED', `'${name}' is not a disk image: it looks like ${what}${hint(what)}`);
    if (st.size === 0 || st.size % 512 !== 0) {
      throw new NestboxError('IMAGE_REJECTED', `'${name}' is not a disk image: a raw disk is whole 512-byte sectors, and it is ${st.size} bytes`);
    }
  } finally {
    fs.closeSync(fd);
  }
}
