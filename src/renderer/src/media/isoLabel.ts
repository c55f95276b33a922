/**
 * The volume label of an ISO 9660 image, read from the dropped file itself (the primary
 * volume descriptor at sector 16: type 1, "CD001", then the volume identifier at bytes
 * 40-71), so the OS type can be guessed from it before anything is uploaded. Only 2 KiB are
 * read; anything that is not a plain ISO 9660 header gives null.
 */
const SECTOR = 2048;
const PVD_OFFSET = 16 * SECTOR;

export async function readIsoLabel(file: Blob): Promise<string | null> {
  if (file.size < PVD_OFFSET + SECTOR) return null;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await file.slice(PVD_OFFSET, PVD_OFFSET + 72).arrayBuffer());
  } catch {
    return null;
  }
  if (bytes[0] !== 1 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'CD001') return null;
  // d-characters are A-Z, 0-9 and _; keep printable ASCII only and trim the space padding.
  const label = String.fromCharCode(...bytes.subarray(40, 72))
    .replace(/[^\x20-\x7e]/g, '')
    .trim();
  return label === '' ? null : label;
}
