/**
 * One SSH connection per qemu+ssh host, shared by every virsh the core runs for it (OpenSSH's
 * ControlMaster). Without it each call — a list, a start, the event stream, a console — pays a
 * whole SSH handshake (key exchange, authentication, a round trip or four on a real network).
 *
 * libvirt runs its ssh transport through the URI's `command=` (default `ssh`). The URI virsh is
 * given names a small wrapper instead, written into the core's private runtime folder, that
 * runs the same command with the multiplexing options in front of libvirt's own arguments:
 * the first call becomes the master (it forks into the background and lets go of the caller's
 * output, so the call ends as usual), the next ones ride on it, and the master leaves 60 s
 * after its last user. Each URI has a master of its own (a different key or user never reuses
 * another's authentication). The master checks the server every 5 s and leaves after 3
 * missed answers, so a vanished host is noticed as without it; a master that died leaves a
 * stale socket that the next call replaces.
 *
 * The URI the user gave stays what Nestbox stores and shows; only virsh sees the wrapper. VNC
 * forwards keep their own SSH process (a forward added through a master outlives its client).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseLibvirtUri } from './streams';

/** Seconds the master stays after its last user. */
export const MUX_PERSIST_S = 60;

/** A word for /bin/sh, quoted so nothing in it is read by the shell. */
const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The URI virsh should use for `uri`: for an SSH URI, the same URI with `command=` naming a
 * multiplexing wrapper in `dir` (made 0700 if missing); any other URI as it is.
 */
export function muxedUri(uri: string, dir: string): string {
  let parsed: ReturnType<typeof parseLibvirtUri>;
  try {
    parsed = parseLibvirtUri(uri);
  } catch {
    return uri;
  }
  if (parsed.transport !== 'ssh') return uri;
  const key = createHash('sha256').update(uri).digest('hex').slice(0, 16);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const wrapper = path.join(dir, `ssh-${key}`);
  const control = path.join(dir, `${key}.cm`);
  const command = parsed.params.get('command') ?? 'ssh';
  const script = [
    '#!/bin/sh',
    "# Nestbox: libvirt's ssh for one host URI, sharing one connection (see src/core/libvirt/sshmux.ts).",
    `exec ${shQuote(command)} -o ${shQuote(`ControlPath=${control}`)} -o ControlMaster=auto -o ControlPersist=${MUX_PERSIST_S} -o ServerAliveInterval=5 -o ServerAliveCountMax=3 "$@"`,
    '',
  ].join('\n');
  // Written beside and renamed into place: a virsh starting meanwhile never runs half a script.
  if (!fs.existsSync(wrapper) || fs.readFileSync(wrapper, 'utf8') !== script) {
    const tmp = `${wrapper}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script, { mode: 0o700 });
    fs.renameSync(tmp, wrapper);
  }
  const q = uri.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : uri.slice(q + 1));
  params.set('command', wrapper);
  // libvirt reads %-escapes in the query; URLSearchParams writes a space as '+', which it would keep.
  const query = [...params].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `${q < 0 ? uri : uri.slice(0, q)}?${query}`;
}
