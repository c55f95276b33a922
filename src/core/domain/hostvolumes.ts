/** Names of volumes in a libvirt host's storage pools, shared by the core and the CLI. */

/** A file's name (the last part of its path) as a volume name libvirt and Nestbox's name check accept (the rest becomes '_'). */
export function volumeNameFor(file: string): string {
  const base = (file.split('/').pop() ?? '').replace(/[^A-Za-z0-9._+-]/g, '_').replace(/^[-.+]+/, '');
  return (base || 'image.iso').slice(-64);
}
