/**
 * Client-side checks that give the wizard and Settings their messages before anything is
 * sent. The core validates again (it is the authority); these rules copy its name rule so
 * the user hears about a bad name on the step where it was typed, not after Finish.
 */

export const MAX_NAME_LENGTH = 64;
export const MIN_MEMORY_MIB = 16;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._()+-]*$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Why `name` cannot name a new (or renamed) VM, or null when it can. `taken` holds the
 * names in use; `current` is the VM's own name when renaming, which is not a clash.
 */
export function vmNameProblem(name: string, taken: readonly string[], current?: string): string | null {
  if (name.trim() === '') return 'Enter a name for the virtual machine.';
  if (name.length > MAX_NAME_LENGTH) return `The name is too long (at most ${MAX_NAME_LENGTH} characters).`;
  if (!/^[A-Za-z0-9]/.test(name)) return 'The name must start with a letter or a digit.';
  if (!NAME_RE.test(name)) return 'Use only letters, digits, spaces and . _ ( ) + -';
  if (name.endsWith('.') || name.endsWith(' ')) return 'The name must not end with a dot or a space.';
  if (UUID_RE.test(name)) return 'The name must not look like a UUID.';
  const lower = name.toLowerCase();
  if (current !== undefined && current.toLowerCase() === lower) return null;
  if (taken.some((t) => t.toLowerCase() === lower)) return `A virtual machine named '${name}' already exists.`;
  return null;
}

export function groupProblem(group: string): string | null {
  if (group.length > 128) return 'The group name is too long (at most 128 characters).';
  if (/[\\/]/.test(group)) return 'The group name must not contain / or \\.';
  return null;
}

/** Absolute on POSIX or Windows; the host may be either, the browser cannot tell. */
export function isAbsolutePath(p: string): boolean {
  return /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(p);
}

export function pathProblem(p: string, what: string): string | null {
  if (p.trim() === '') return `Enter the path of the ${what} on the host.`;
  if (!isAbsolutePath(p.trim())) return `The ${what} path must be absolute (for example /home/me/images/file).`;
  return null;
}

/** Parses a whole number from a text field; NaN when it is not one. */
export function parseWhole(text: string): number {
  return /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
}

export function memoryProblem(mib: number, hostMiB: number): string | null {
  if (!Number.isInteger(mib)) return 'Enter the memory size as a whole number of MiB.';
  if (mib < MIN_MEMORY_MIB) return `At least ${MIN_MEMORY_MIB} MiB of memory are needed.`;
  if (mib > hostMiB) return `The host has only ${hostMiB.toLocaleString()} MiB of memory.`;
  return null;
}

export function cpusProblem(cpus: number, hostCpus: number): string | null {
  if (!Number.isInteger(cpus) || cpus < 1) return 'At least one CPU is needed.';
  if (cpus > hostCpus) return `The host has only ${hostCpus} CPUs.`;
  return null;
}
