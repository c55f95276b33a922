/** Sizes as users type them: "20G", "512M", "1.5T", "1073741824" (bytes). Binary units. */
export function parseSize(input: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(input);
  if (!m) throw new Error(`'${input}' is not a size (examples: 20G, 512M, 1T)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const mult = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : unit === 'T' ? 1024 ** 4 : 1;
  const bytes = Math.round(n * mult);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`'${input}' is not a usable size`);
  return bytes;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
