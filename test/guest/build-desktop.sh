#!/usr/bin/env bash
# The desktop variant of the Nestbox test guest: the busybox guest of build.sh plus what a
# real clipboard needs inside it, all Debian's own binaries taken from packages installed on
# the build host: an X server (Xvfb, with xkbcomp and the XKB data it loads), the SPICE guest
# agent (spice-vdagentd, the system daemon on the virtio port com.redhat.spice.0, and
# spice-vdagent, the X session agent that owns the clipboard) and xclip to set and read the
# X clipboard from the serial shell, and a session D-Bus (dbus-daemon) as a desktop session has. Each with the shared libraries it loads.
#
# In the guest, init keeps three services running, each started when what it needs is there,
# and restarted when it ends, the way Debian's units do (spice-vdagentd.service has
# Restart=on-failure and is wanted by udev once the port exists):
#   Xvfb :0                                   /run/desktop/xvfb.log
#   spice-vdagentd -x -X -d -f -u FILE        /run/desktop/vdagentd.log   (once the port exists)
#   dbus-daemon --session                     /run/desktop/session-bus.log
#   spice-vdagent -d --display :0             /run/desktop/syslog         (once vdagentd listens)
# spice-vdagent runs as the desktop's autostart entry runs it: daemonized, reconnecting to
# spice-vdagentd when that goes away. Every start is counted in /run/desktop/<name>.starts. vport-links keeps the
# /dev/virtio-ports/<name> links to the ports that udev would make. The shell has
#   clip-set TEXT    owns the X CLIPBOARD with TEXT (xclip -i)
#   clip-get         prints CLIP[<the X CLIPBOARD's text>] (xclip -o)
# and the guest prints NESTBOX-DESKTOP-READY on ttyS0 once X listens.
#
# Usage: iso=$(bash test/guest/build-desktop.sh BASE_ISO | tail -1)
# BASE_ISO is build.sh's ISO. The result is cached beside it, under desktop-<hash>/, <hash>
# covering this script and iso-repack.sh, the base ISO's bytes and the installed
# versions of the packages below. Build-host packages (Debian): xvfb spice-vdagent xclip dbus-daemon
# (and what build.sh needs: xorriso cpio gzip grub-common grub-pc-bin mtools).
set -euo pipefail
export LC_ALL=C

log() { printf 'nestbox-desktop-guest: %s\n' "$*" >&2; }
die() { printf 'nestbox-desktop-guest: error: %s\n' "$*" >&2; exit 1; }
script_path=$(readlink -f "${BASH_SOURCE[0]}")
repack_lib=$(dirname "$script_path")/iso-repack.sh
# shellcheck source=iso-repack.sh
source "$repack_lib"
base=$(readlink -f "${1:?base ISO (test/guest/build.sh output)}")
[[ -s $base ]] || die "no base ISO at $base"

pkgs=(xvfb x11-xkb-utils xkb-data spice-vdagent xclip dbus-daemon dbus-session-bus-common)
bins=(/usr/bin/Xvfb /usr/bin/xkbcomp /usr/sbin/spice-vdagentd /usr/bin/spice-vdagent /usr/bin/xclip /usr/bin/dbus-daemon)
vers=()
for p in "${pkgs[@]}"; do
  v=$(dpkg-query -W -f '${Version}' "$p" 2>/dev/null) || v=
  [[ -n $v ]] || die "the Debian package $p is not installed on this host (apt-get install --no-install-recommends xvfb spice-vdagent xclip)"
  vers+=("$p=$v")
done
for b in "${bins[@]}"; do [[ -x $b ]] || die "no $b on this host"; done
command -v ldd >/dev/null || die "ldd needed (Debian package libc-bin)"
for c in xorriso cpio gzip grub-mkrescue; do command -v "$c" >/dev/null || die "$c needed (see test/guest/README.md)"; done

hash=$( { cat "$script_path" "$repack_lib"; sha256sum <"$base"; printf '%s\n' "${vers[@]}"; } | sha256sum | cut -c1-16)
cache_root=${NESTBOX_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nestbox/test-guest}
mkdir -p "$cache_root"
cache_root=$(cd "$cache_root" && pwd -P)
out_dir=$cache_root/desktop-$hash
iso=$out_dir/nestbox-desktop-guest.iso
if [[ ${NESTBOX_GUEST_FORCE:-0} != 1 && -s $iso ]]; then
  log "cached: ${vers[*]}"
  touch "$out_dir" 2>/dev/null || true
  printf '%s\n' "$iso"
  exit 0
fi
exec 9>"$cache_root/.lock-desktop"
flock 9
if [[ ${NESTBOX_GUEST_FORCE:-0} != 1 && -s $iso ]]; then
  printf '%s\n' "$iso"
  exit 0
fi
# Drop desktop ISOs of other versions unused for 30 days.
find "$cache_root" -mindepth 1 -maxdepth 1 -type d -name 'desktop-*' ! -name "desktop-$hash" -mtime +30 -exec rm -rf {} + 2>/dev/null || true
work=$(mktemp -d "$cache_root/.build-desktop.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS
log "building in $work: ${vers[*]}"

repack_extract_initrd "$base" "$work"
ov=$work/overlay
libdir=lib/x86_64-linux-gnu
mkdir -p "$ov/$libdir" "$ov/usr/bin" "$ov/usr/sbin" "$ov/sbin" "$ov/etc/init.d" "$ov/usr/share/X11" "$ov/usr/share/dbus-1" "$ov/var/lib/xkb"
for b in "${bins[@]}"; do cp "$b" "$ov$b"; done
# The libraries, as the host's dynamic loader resolves them for these (host-installed) binaries.
# They land in /lib/x86_64-linux-gnu like build.sh's, replacing the same files there.
for b in "${bins[@]}"; do
  if ldd "$b" | grep -q 'not found'; then die "$b lacks libraries on this host: $(ldd "$b" | grep 'not found' | tr -s ' \t\n' ' ')"; fi
done
declare -A have=()
while read -r so; do
  [[ -n $so && -z ${have[$so]:-} ]] || continue
  have[$so]=1
  case $so in
    */ld-linux-x86-64.so.2) mkdir -p "$ov/lib64"; cp -L "$so" "$ov/lib64/ld-linux-x86-64.so.2" ;;
    *) cp -L "$so" "$ov/$libdir/${so##*/}" ;;
  esac
done < <(for b in "${bins[@]}"; do ldd "$b"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
cp -a /usr/share/X11/xkb "$ov/usr/share/X11/xkb"
cp /usr/share/dbus-1/session.conf "$ov/usr/share/dbus-1/session.conf"
log "binaries: ${bins[*]} + ${#have[@]} libraries"

cat >"$ov/etc/inittab" <<'EOT'
::sysinit:/etc/init.d/rcS
::sysinit:/etc/init.d/desktop
ttyS0::respawn:-/bin/sh
tty1::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::respawn:/sbin/nestbox-qga
::respawn:/sbin/desktop-service xvfb
::respawn:/sbin/desktop-service session-bus
::respawn:/sbin/desktop-service vdagentd
::respawn:/sbin/desktop-service vdagent
::shutdown:/etc/init.d/rcK
EOT

cat >"$ov/etc/init.d/desktop" <<'EOT'
#!/bin/sh
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mkdir -p /run/desktop /run/spice-vdagentd /dev/virtio-ports
vport-links
# spice-vdagent, daemonized, logs only to syslog.
syslogd -O /run/desktop/syslog
# Say when X answers, in the background: the shells must not wait for it.
(
  i=0
  while [ $i -lt 600 ]; do
    [ -S /tmp/.X11-unix/X0 ] && break
    sleep 1; i=$((i + 1))
  done
  printf '\nNESTBOX-DESKTOP-READY\n' >/dev/ttyS0
) </dev/null >/dev/null 2>&1 &
exit 0
EOT

cat >"$ov/sbin/vport-links" <<'EOT'
#!/bin/sh
# What udev does for virtio ports: /dev/virtio-ports/<name> -> the port's node, for the ports
# there now; links to ports that went away are removed. Run by the services that wait for a
# port (this guest has no udev).
mkdir -p /dev/virtio-ports
for p in /sys/class/virtio-ports/*; do
  [ -e "$p" ] || continue
  n=$(cat "$p/name" 2>/dev/null)
  [ -n "$n" ] && [ "$(readlink "/dev/virtio-ports/$n")" != "/dev/${p##*/}" ] && ln -sfn "/dev/${p##*/}" "/dev/virtio-ports/$n"
done
for l in /dev/virtio-ports/*; do
  [ -L "$l" ] && [ ! -e "$l" ] && rm -f "$l"
done
exit 0
EOT

cat >"$ov/sbin/desktop-service" <<'EOT'
#!/bin/sh
# desktop-service NAME: one of the desktop's services, in the foreground (init restarts it
# when it ends). Waits for what the service needs first, as its unit's triggers would.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin DISPLAY=:0 HOME=/root NO_AT_BRIDGE=1 GIO_USE_VFS=local
bus=/run/desktop/session-bus
export DBUS_SESSION_BUS_ADDRESS=unix:path=$bus
port=/dev/virtio-ports/com.redhat.spice.0
sock=/run/spice-vdagentd/spice-vdagent-sock
d=/run/desktop
mkdir -p $d /run/spice-vdagentd
count() { echo $(( $(cat $d/$1.starts 2>/dev/null || echo 0) + 1 )) >$d/$1.starts; }
case $1 in
xvfb)
  count xvfb
  exec Xvfb :0 -screen 0 1024x768x24 -nolisten tcp >>$d/xvfb.log 2>&1
  ;;
session-bus)
  # The session's D-Bus, which a desktop session has (spice-vdagent asks it for mutter's display config).
  count session-bus
  rm -f $bus
  exec dbus-daemon --session --nofork --nopidfile --address=unix:path=$bus >>$d/session-bus.log 2>&1
  ;;
vdagentd)
  # udev starts Debian's spice-vdagentd once the port exists.
  until vport-links && [ -c $port ]; do sleep 1; done
  count vdagentd
  : >$d/uinput
  # As Debian's /etc/init.d/spice-vdagent does "in case the previous running vdagentd crashed"
  # (under systemd the socket is systemd's and outlives the daemon).
  rm -f $sock
  echo "=== start $(date +%s)" >>$d/vdagentd.log
  # -X: no systemd-logind here; -f -u: a file stands in for /dev/uinput (no mouse needed).
  spice-vdagentd -x -X -d -f -u $d/uinput >>$d/vdagentd.log 2>&1
  echo "=== exit $? $(date +%s)" >>$d/vdagentd.log
  sleep 1
  ;;
vdagent)
  # A desktop session starts spice-vdagent from /etc/xdg/autostart (no -x: it daemonizes and,
  # when spice-vdagentd goes away, reconnects to the next one by itself).
  until vport-links && [ -S $sock ] && [ -c $port ] && [ -S /tmp/.X11-unix/X0 ] && [ -S $bus ]; do sleep 1; done
  count vdagent
  echo "=== start $(date +%s)" >>$d/vdagent.log
  spice-vdagent -d --display :0 >>$d/vdagent.log 2>&1
  echo "=== started $? $(date +%s)" >>$d/vdagent.log
  while pidof spice-vdagent >/dev/null; do sleep 2; done
  echo "=== gone $(date +%s)" >>$d/vdagent.log
  sleep 1
  ;;
*) echo "desktop-service: unknown $1" >&2; exec sleep 2147483647 ;;
esac
EOT

cat >"$ov/sbin/clip-set" <<'EOT'
#!/bin/sh
# Owns the X CLIPBOARD with the arguments' text (xclip stays in the background to serve it).
printf '%s' "$*" | DISPLAY=:0 xclip -selection clipboard -i -quiet >/dev/null 2>&1 &
sleep 1
EOT
cat >"$ov/sbin/clip-get" <<'EOT'
#!/bin/sh
# The X CLIPBOARD's text between CLIP[ and ] (empty when nothing owns it or it is not text).
printf 'CLIP[%s]\n' "$(DISPLAY=:0 timeout 10 xclip -selection clipboard -o 2>/dev/null)"
EOT
chmod 755 "$ov/etc/init.d/desktop" "$ov/sbin/vport-links" "$ov/sbin/desktop-service" "$ov/sbin/clip-set" "$ov/sbin/clip-get"

repack_append_overlay "$ov" "$work" 6
repack_iso "$base" "$work" NESTBOX_DESKTOP "$work/desktop.iso"
mkdir -p "$out_dir"
printf '%s\n' "base=$base" "${vers[@]}" "libraries=${!have[*]}" >"$out_dir/build-info.txt"
mv -f "$work/desktop.iso" "$iso"
log "built $(du -h "$iso" | cut -f1) ISO in $((SECONDS - start)) s"
printf '%s\n' "$iso"
