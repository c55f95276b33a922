/** Reads the metadata OS detection needs from an ISO, through the bounded reader. */
import type { IsoFacts } from '../domain/osdetect';
import { IsoReader } from './iso9660';

const SMALL = 64 * 1024;

function text(r: IsoReader, p: string): string | null {
  const b = r.readFile(p, SMALL);
  return b ? b.toString('utf8').replace(/\0+$/, '') : null;
}

export function readIsoFacts(file: string): IsoFacts {
  const r = IsoReader.open(file);
  try {
    return {
      volumeId: r.volumeId,
      diskInfo: text(r, '.disk/info'),
      idwbinfo: text(r, 'sources/idwbinfo.txt'),
      grubCfg: text(r, 'boot/grub/grub.cfg'),
    };
  } finally {
    r.close();
  }
}
