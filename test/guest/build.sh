#!/usr/bin/env bash
# Build the Nestbox test guest: a tiny bootable ISO (GRUB, BIOS + UEFI) made of
# Debian's stock kernel and busybox-static, with a hand-made busybox initramfs.
#
# Usage:   iso=$(bash test/guest/build.sh | tail -1)
#
# The LAST line on stdout is the absolute path of the ISO; all progress goes to
# stderr. Results are cached under
#   ${NESTBOX_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nestbox/test-guest}/<hash>/
# where <hash> covers this script and the resolved package versions, so a
# cached ISO is returned immediately.
#
# Environment:
#   NESTBOX_GUEST_CACHE        cache root (see above)
#   NESTBOX_GUEST_KERNEL_PKG   kernel image package to use instead of the one
#                              linux-image-amd64 currently depends on
#   NESTBOX_GUEST_REQUIRE_EFI  1 = fail unless the ISO can also boot via UEFI
#   NESTBOX_GUEST_FORCE        1 = rebuild even if a cached ISO exists
#
# Build-host packages (Debian): apt dpkg coreutils findutils util-linux gzip
#   cpio grub-common grub-pc-bin xorriso mtools, plus grub-efi-amd64-bin for
#   UEFI boot. kmod is used for `modinfo` if present (optional). The kernel and
#   busybox are fetched with `apt-get download`; nothing is installed.
# See test/guest/README.md.
set -euo pipefail
export LC_ALL=C

log() { printf 'nestbox-guest: %s\n' "$*" >&2; }
die() { printf 'nestbox-guest: error: %s\n' "$*" >&2; exit 1; }

script_path=$(readlink -f "${BASH_SOURCE[0]}")

# --- tool checks -------------------------------------------------------------
missing=()
need() { # need <command> <debian package>
  command -v "$1" >/dev/null 2>&1 || missing+=("$2 (for '$1')")
}
need apt-get apt
need apt-cache apt
need dpkg-deb dpkg
need sha256sum coreutils
need mktemp coreutils
need find findutils
need flock util-linux
need gzip gzip
need cpio cpio
need grub-mkrescue grub-common
need xorriso xorriso
need mformat mtools
grub_lib=/usr/lib/grub
[[ -f $grub_lib/i386-pc/cdboot.img ]] || missing+=("grub-pc-bin (for $grub_lib/i386-pc)")
if ((${#missing[@]})); then
  die "missing tools; install these Debian packages first: ${missing[*]}"
fi
platforms=i386-pc
if [[ -f $grub_lib/x86_64-efi/linux.mod ]]; then
  platforms+=" x86_64-efi"
elif [[ ${NESTBOX_GUEST_REQUIRE_EFI:-0} == 1 ]]; then
  die "UEFI support requested but $grub_lib/x86_64-efi is missing; install the Debian package grub-efi-amd64-bin"
else
  log "warning: grub-efi-amd64-bin not installed; the ISO will boot with BIOS only (no UEFI/OVMF)"
fi

# --- resolve package versions ------------------------------------------------
# One apt-cache call in the common (Debian, cached ISO) case: apt-cache is slow
# (~0.5 s per call) when apt keeps no binary package cache.
apt_records() { # prints "<package> <Field:> <value>" for the candidate versions
  apt-cache show --no-all-versions "$@" 2>/dev/null |
    awk '/^Package: /{p=$2} /^(Version|Depends): /{f=$1; sub(/^[^ ]+ /,""); print p, f, $0}' || true
}
rec_field() { # rec_field <records> <package> <Field:>
  awk -v p="$2" -v f="$3" '$1==p && $2==f {sub(/^[^ ]+ [^ ]+ /,""); print; exit}' <<<"$1"
}
kernel_pkg=${NESTBOX_GUEST_KERNEL_PKG:-} kernel_ver='' kernel_deps=''
# The guest agent (qemu-ga) and the shared libraries it loads: Debian's qemu-guest-agent and
# its dependency closure, fixed here so the one apt-cache call resolves them all.
# e2fsprogs (mkfs.ext4, e2fsck) and its libraries ride along: the consistent-snapshot test makes
# an ext4 file system on the VM's disk and checks it after restoring (busybox has neither).
agent_pkgs=(qemu-guest-agent libc6 libglib2.0-0 libnuma1 libudev1 liburing2 libffi8 libmount1
  libblkid1 libpcre2-8-0 libselinux1 zlib1g e2fsprogs libext2fs2 libcom-err2 libss2 libuuid1)
recs=$(apt_records busybox-static "${kernel_pkg:-linux-image-amd64}" "${agent_pkgs[@]}")
agent_vers=()
for p in "${agent_pkgs[@]}"; do
  v=$(rec_field "$recs" "$p" Version:)
  [[ -n $v ]] || die "apt knows no $p package (needed for the guest agent; run apt-get update?)"
  agent_vers+=("$p=$v")
done
busybox_ver=$(rec_field "$recs" busybox-static Version:)
[[ -n $busybox_ver ]] || die "apt knows no busybox-static package (no Debian apt sources, or run apt-get update)"
if [[ -n $kernel_pkg ]]; then
  kernel_ver=$(rec_field "$recs" "$kernel_pkg" Version:)
  kernel_deps=$(rec_field "$recs" "$kernel_pkg" Depends:)
else
  # linux-image-amd64 (Debian) depends on the current "linux-image-<abi>-amd64 (= <version>)".
  deps=$(rec_field "$recs" linux-image-amd64 Depends:)
  if [[ -z $deps ]]; then # not Debian; Ubuntu-style metapackages (untested)
    recs2=$(apt_records linux-image-virtual linux-image-generic)
    deps=$(rec_field "$recs2" linux-image-virtual Depends:)
    [[ -n $deps ]] || deps=$(rec_field "$recs2" linux-image-generic Depends:)
  fi
  dep=$(grep -o 'linux-image-[0-9][^ ,|]*\( (= [^)]*)\)\{0,1\}' <<<"$deps" | head -n1) || true
  [[ -n $dep ]] || die "cannot resolve the kernel package that linux-image-amd64 depends on (no Debian apt sources, or run apt-get update)"
  kernel_pkg=${dep%% *}
  if [[ $dep == *'(= '* ]]; then kernel_ver=${dep##*'(= '}; kernel_ver=${kernel_ver%)}; fi
fi
if [[ -z $kernel_ver || ( -z $kernel_deps && $kernel_pkg != *-amd64 ) ]]; then
  recs3=$(apt_records "$kernel_pkg")
  kernel_ver=$(rec_field "$recs3" "$kernel_pkg" Version:)
  kernel_deps=$(rec_field "$recs3" "$kernel_pkg" Depends:)
fi
[[ -n $kernel_ver ]] || die "apt knows no installable version of $kernel_pkg (run apt-get update?)"
# Ubuntu splits the modules off into linux-modules-<abi>; Debian does not.
modules_pkg=$(grep -o 'linux-modules-[0-9][^ ,|]*' <<<"$kernel_deps" | head -n1) || true
modules_ver=
if [[ -n $modules_pkg ]]; then
  modules_ver=$(rec_field "$(apt_records "$modules_pkg")" "$modules_pkg" Version:)
  [[ -n $modules_ver ]] || die "apt knows no installable version of $modules_pkg"
fi

hash=$( { cat "$script_path"
          printf '%s=%s\n' "$kernel_pkg" "$kernel_ver" busybox-static "$busybox_ver" \
            "${modules_pkg:-none}" "${modules_ver:-none}" platforms "$platforms"
          printf '%s\n' "${agent_vers[@]}"
        } | sha256sum | cut -c1-16)
cache_root=${NESTBOX_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nestbox/test-guest}
mkdir -p "$cache_root"
cache_root=$(cd "$cache_root" && pwd -P)
out_dir=$cache_root/$hash
iso=$out_dir/nestbox-test-guest.iso

if [[ ${NESTBOX_GUEST_FORCE:-0} != 1 && -s $iso ]]; then
  log "cached: $kernel_pkg $kernel_ver, busybox $busybox_ver"
  touch "$out_dir" 2>/dev/null || true # marks it as used; see pruning below
  printf '%s\n' "$iso"
  exit 0
fi

# Serialise concurrent builds (e.g. parallel test workers); re-check afterwards.
exec 9>"$cache_root/.lock"
flock 9
if [[ ${NESTBOX_GUEST_FORCE:-0} != 1 && -s $iso ]]; then
  log "cached (built by a concurrent run): $iso"
  printf '%s\n' "$iso"
  exit 0
fi
# We hold the lock, so any leftover build dir is from a killed build.
rm -rf "$cache_root"/.build.*
# Drop ISOs of other script/package versions unused for 30 days.
find "$cache_root" -mindepth 1 -maxdepth 1 -type d -name '[0-9a-f]*' ! -name "$hash" -mtime +30 \
  -exec rm -rf {} + 2>/dev/null || true
work=$(mktemp -d "$cache_root/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

start=$SECONDS
log "building in $work"
log "kernel: $kernel_pkg $kernel_ver${modules_pkg:+ + $modules_pkg}; busybox-static $busybox_ver; grub: $platforms"

# --- fetch and unpack ----------------------------------------------------------
mkdir -p "$work/debs" "$work/pkg"
pkgs=("$kernel_pkg=$kernel_ver" "busybox-static=$busybox_ver")
if [[ -n $modules_pkg ]]; then pkgs+=("$modules_pkg=$modules_ver"); fi
( cd "$work/debs" && apt-get download -q "${pkgs[@]}" ) >&2 2> >(grep -v 'Download is performed unsandboxed' >&2) ||
  die "apt-get download ${pkgs[*]} failed"
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/pkg"
done
rm -rf "$work/debs"
# The agent's packages go into a tree of their own: only qemu-ga and the libraries it really
# loads are copied into the initramfs (the rest of libc6 and glib would double the ISO).
mkdir -p "$work/debs" "$work/agent"
( cd "$work/debs" && apt-get download -q "${agent_vers[@]}" ) >&2 2> >(grep -v 'Download is performed unsandboxed' >&2) ||
  die "apt-get download ${agent_vers[*]} failed"
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/agent"
done
rm -rf "$work/debs"

pkg=$work/pkg
vmlinuz=
for f in "$pkg"/boot/vmlinuz-*; do if [[ -f $f ]]; then vmlinuz=$f; break; fi; done
[[ -n $vmlinuz ]] || die "no /boot/vmlinuz-* in $kernel_pkg"
kver=${vmlinuz##*/vmlinuz-}
moddir=
for d in "$pkg/lib/modules/$kver" "$pkg/usr/lib/modules/$kver"; do
  if [[ -d $d ]]; then moddir=$d; break; fi
done
[[ -n $moddir ]] || die "no lib/modules/$kver in $kernel_pkg"
busybox=$pkg/bin/busybox
[[ -x $busybox ]] || die "no /bin/busybox in busybox-static"

# --- initramfs -------------------------------------------------------------------
root=$work/initramfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,etc/acpi/PWRF,proc,sys,dev,run,tmp,root,mnt,var/log,www}
mkdir -p "$root/lib/modules/$kver"
ln -s ../run "$root/var/run"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
# Applet symlinks at build time (the static amd64 busybox runs on the build
# host); /init falls back to `busybox --install -s` if this was not possible.
if applets=$("$busybox" --list-full 2>/dev/null); then
  while IFS= read -r a; do
    if [[ -n $a && $a != bin/busybox && ! -e $root/$a ]]; then ln -s /bin/busybox "$root/$a"; fi
  done <<<"$applets"
else
  log "warning: cannot run busybox on this host; applet links will be made at boot"
fi

# Kernel modules: the top-level list below plus their dependencies, resolved
# here with modinfo and loaded by rcS with insmod in dependency order.
modules=(
  virtio_pci virtio_net virtio_blk virtio_scsi virtio_console virtio_balloon
  virtio_rng virtio_input e1000 e1000e ahci ata_piix sd_mod sr_mod cdrom isofs
  button evdev ext4 crc32c_generic
  virtiofs 9p 9pnet_virtio
)
declare -A ko_src=() builtin=() state=()
order=()
while IFS= read -r -d '' f; do
  b=${f##*/}; b=${b%%.ko*}; ko_src[${b//-/_}]=$f
done < <(find "$moddir" -name '*.ko*' -print0)
if [[ -f $moddir/modules.builtin ]]; then
  while IFS= read -r f; do b=${f##*/}; b=${b%.ko}; builtin[${b//-/_}]=1; done <"$moddir/modules.builtin"
fi
mkdir -p "$work/ko"
ko_depends() { # comma-separated dependency list of a (decompressed) .ko
  if command -v modinfo >/dev/null 2>&1; then
    modinfo -F depends "$1"
  else # same data, read straight from the .modinfo section
    tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n1
  fi
}
add_module() { # add_module <name> <required:0|1>
  local m=${1//-/_} req=$2 src out d deps
  case ${state[$m]:-} in ok) return ;; busy) die "module dependency cycle at $m" ;; esac
  src=${ko_src[$m]:-}
  if [[ -z $src ]]; then
    if [[ -n ${builtin[$m]:-} ]]; then state[$m]=ok; return; fi
    ((req)) && die "module $m needed but not found in $kernel_pkg"
    log "note: module $m is neither modular nor built in; skipped"
    state[$m]=ok; return
  fi
  state[$m]=busy
  out=$work/ko/$m.ko
  case $src in
    *.ko) cp "$src" "$out" ;;
    *.ko.xz) command -v xz >/dev/null || die "xz needed for $src (Debian package xz-utils)"; xz -dc "$src" >"$out" ;;
    *.ko.zst) command -v zstd >/dev/null || die "zstd needed for $src (Debian package zstd)"; zstd -dcq "$src" >"$out" ;;
    *.ko.gz) gzip -dc "$src" >"$out" ;;
    *) die "unknown module format: $src" ;;
  esac
  deps=$(ko_depends "$out")
  for d in ${deps//,/ }; do add_module "$d" 1; done
  state[$m]=ok
  order+=("$m")
}
for m in "${modules[@]}"; do add_module "$m" 0; done
for m in "${order[@]}"; do cp "$work/ko/$m.ko" "$root/lib/modules/$kver/"; done
printf '%s\n' "${order[@]}" >"$root/lib/modules/$kver/load-order"
log "modules (${#order[@]}): ${order[*]}"

# --- guest agent -----------------------------------------------------------------
# qemu-ga plus the transitive DT_NEEDED closure read with readelf (nothing of the guest's
# is executed on the build host). Everything lands in /lib/x86_64-linux-gnu, the dynamic
# loader also at /lib64 where the binary's PT_INTERP points.
command -v readelf >/dev/null 2>&1 || die "readelf needed to pick qemu-ga's libraries (Debian package binutils)"
agent=$work/agent
qga=$agent/usr/sbin/qemu-ga
[[ -x $qga ]] || die "no /usr/sbin/qemu-ga in qemu-guest-agent"
libdir=lib/x86_64-linux-gnu
mkdir -p "$root/$libdir" "$root/lib64" "$root/etc/qemu"
cp "$qga" "$root/usr/sbin/qemu-ga"
# e2fsprogs: the two programs the tests use, under the names busybox would give them.
e2fs_bins=()
for b in mke2fs e2fsck; do
  src=
  for d in sbin usr/sbin; do if [[ -x $agent/$d/$b ]]; then src=$agent/$d/$b; break; fi; done
  [[ -n $src ]] || die "no $b in e2fsprogs"
  rm -f "$root/sbin/$b"
  cp "$src" "$root/sbin/$b"
  e2fs_bins+=("$root/sbin/$b")
done
for l in mkfs.ext4 mkfs.ext2 fsck.ext4; do rm -f "$root/sbin/$l"; done
ln -s mke2fs "$root/sbin/mkfs.ext4"
ln -s e2fsck "$root/sbin/fsck.ext4"
[[ -f $agent/etc/mke2fs.conf ]] && cp "$agent/etc/mke2fs.conf" "$root/etc/mke2fs.conf"
find_lib() { # find_lib <soname>: its path in the unpacked agent packages
  local d
  for d in "$agent/$libdir" "$agent/usr/$libdir" "$agent/lib64"; do
    if [[ -e $d/$1 ]]; then printf '%s\n' "$d/$1"; return 0; fi
  done
  return 1
}
declare -A have_lib=()
queue=("$qga" "${e2fs_bins[@]}")
while ((${#queue[@]})); do
  f=${queue[0]}; queue=("${queue[@]:1}")
  while IFS= read -r so; do
    [[ -n $so && -z ${have_lib[$so]:-} ]] || continue
    src=$(find_lib "$so") || die "$f needs $so, which none of ${agent_pkgs[*]} has"
    have_lib[$so]=1
    cp -L "$src" "$root/$libdir/$so"
    queue+=("$root/$libdir/$so")
  done < <(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
interp=$(readelf -l "$qga" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
[[ $interp == /lib64/ld-linux-x86-64.so.2 ]] || die "unexpected qemu-ga interpreter '$interp'"
cp -L "$(find_lib ld-linux-x86-64.so.2)" "$root/lib64/ld-linux-x86-64.so.2"
log "agent: qemu-ga + ${#have_lib[@]} libraries (${!have_lib[*]})"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# PID 1 starts here. Give busybox init a real console: /dev is not populated
# yet when the kernel starts us from an initramfs without device nodes.
[ -e /bin/sh ] || /bin/busybox --install -s
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
exec /sbin/init
EOF
chmod 755 "$root/init"

cat >"$root/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
ttyS0::respawn:-/bin/sh
tty1::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::respawn:/sbin/nestbox-qga
::shutdown:/etc/init.d/rcK
EOF

cat >"$root/etc/init.d/rcS" <<'EOF'
#!/bin/sh
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
hostname nestbox-guest
ip link set lo up

say() { # marker lines go to the serial port and the screen
  for t in /dev/ttyS0 /dev/tty0; do printf '%s\n' "$*" >"$t" 2>/dev/null; done
}

kver=$(uname -r)
while read -r m; do
  insmod "/lib/modules/$kver/$m.ko" 2>/dev/null || echo "rcS: insmod $m failed" >&2
done <"/lib/modules/$kver/load-order"

httpd -p 80 -h /www
# acpid reads /dev/input/event*; the ACPI power button arrives there once the
# button and evdev modules are loaded. PWRF -> /etc/acpi/PWRF/00000080.
# `nestbox.ignoreacpi` on the kernel command line (or /sbin/nestbox-ignore-acpi later) makes
# the guest deaf to the power button, like a guest that ignores ACPI.
case " $(cat /proc/cmdline) " in
*" nestbox.ignoreacpi "*) : ;;
*) [ -e /dev/input/event0 ] && acpid -l /var/log/acpid.log ;;
esac

say NESTBOX-GUEST-READY

# Networking in the background so the shells start right away.
(
  n=0 up=0
  for d in /sys/class/net/eth*; do
    [ -e "$d" ] || continue
    i=${d##*/} n=$((n + 1))
    ip link set "$i" up
    t=0 # wait up to 5 s for link (e1000 needs a moment)
    while [ "$(cat "$d/carrier" 2>/dev/null)" != 1 ] && [ $t -lt 50 ]; do
      usleep 100000; t=$((t + 1))
    done
    rm -f "/run/ip.$i"
    udhcpc -i "$i" -s /etc/udhcpc.script -q -n -t 5 >/dev/null 2>&1
    if [ -s "/run/ip.$i" ]; then
      up=$((up + 1)); say; say "NESTBOX-NET-UP $(cat "/run/ip.$i")"
    fi
  done
  if [ $n = 0 ]; then say; say NESTBOX-NET-NONE
  elif [ $up = 0 ]; then say; say NESTBOX-NET-FAIL
  fi
) </dev/null >/dev/null 2>&1 &
exit 0
EOF

cat >"$root/etc/init.d/rcK" <<'EOF'
#!/bin/sh
for t in /dev/ttyS0 /dev/tty0; do printf '\n%s\n' NESTBOX-GUEST-SHUTDOWN >"$t" 2>/dev/null; done
EOF

# Started (and restarted) by init: qemu-ga on the virtio-serial port the host names
# org.qemu.guest_agent.0; without that port it idles, so init does not respawn it in a loop.
cat >"$root/sbin/nestbox-qga" <<'EOF'
#!/bin/sh
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
  mkdir -p /run/qga
  exec /usr/sbin/qemu-ga -m virtio-serial -p "/dev/${p##*/}" -t /run/qga -f /run/qemu-ga.pid
done
exec sleep 2147483647
EOF

cat >"$root/sbin/nestbox-ignore-acpi" <<'EOF'
#!/bin/sh
killall acpid 2>/dev/null
for t in /dev/ttyS0 /dev/tty0; do printf '\n%s\n' NESTBOX-ACPI-IGNORED >"$t" 2>/dev/null; done
EOF

# qemu-ga's guest-shutdown runs /sbin/shutdown (busybox has no such applet).
cat >"$root/sbin/shutdown" <<'EOF'
#!/bin/sh
case " $* " in
*" -r "*) exec /sbin/reboot ;;
*" -H "*) exec /sbin/halt ;;
*) exec /sbin/poweroff ;;
esac
EOF

cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
exec /sbin/poweroff
EOF

cat >"$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc hook: $1 = deconfig|bound|renew|leasefail|nak; $interface, $ip,
# $mask (prefix length), $router, $dns, $domain come from udhcpc.
# shellcheck disable=SC2154
case "$1" in
deconfig)
  ip -4 addr flush dev "$interface"
  ip link set "$interface" up
  ;;
bound|renew)
  ip -4 addr flush dev "$interface"
  ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
  for r in $router; do
    ip route add default via "$r" dev "$interface" 2>/dev/null && break
  done
  {
    [ -n "$domain" ] && echo "search $domain"
    for d in $dns; do echo "nameserver $d"; done
  } >/etc/resolv.conf
  echo "$ip" >"/run/ip.$interface"
  ;;
esac
exit 0
EOF

cat >"$root/etc/profile" <<'EOF'
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export HOME=/root
PS1='nestbox-guest:\w# '
cd /root
EOF
printf 'root::0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'nestbox-guest\n' >"$root/etc/hostname"
printf '%s\n' 'PRETTY_NAME="Nestbox test guest 1.0"' 'NAME="Nestbox test guest"' 'VERSION_ID="1.0"' \
  'VERSION="1.0"' 'ID=nestbox-guest' >"$root/etc/os-release"
printf '<!doctype html>\n<title>nestbox test guest</title>\n<p>nestbox test guest</p>\n' >"$root/www/index.html"
chmod 755 "$root"/etc/init.d/* "$root/etc/acpi/PWRF/00000080" "$root/etc/udhcpc.script" \
  "$root/sbin/nestbox-qga" "$root/sbin/nestbox-ignore-acpi" "$root/sbin/shutdown"

# --- ISO ---------------------------------------------------------------------
isoroot=$work/iso
mkdir -p "$isoroot/boot/grub"
cp "$vmlinuz" "$isoroot/boot/vmlinuz"
( cd "$root" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet ) | gzip -9n >"$isoroot/boot/initrd.gz"

cat >"$isoroot/boot/grub/grub.cfg" <<'EOF'
set timeout=0
set timeout_style=hidden
# BIOS: GRUB output also goes to the serial port so errors show up in serial
# logs (under UEFI, OVMF's console already includes the serial port). No serial
# *input*: with it GRUB idles ~3 s under TCG before booting.
if [ "$grub_platform" = pc ]; then
  if serial --unit=0 --speed=115200; then
    terminal_output --append serial
  fi
fi
insmod all_video
set nestbox_args="console=tty0 console=ttyS0,115200 loglevel=3 panic=10"
menuentry "Nestbox test guest" {
  if [ "$grub_platform" = pc ]; then
    # 16-bit boot protocol: under TCG ~1.5 s faster than `linux` with BIOS.
    linux16 /boot/vmlinuz $nestbox_args
    initrd16 /boot/initrd.gz
  else
    linux /boot/vmlinuz $nestbox_args
    initrd /boot/initrd.gz
  fi
}
EOF

log "running grub-mkrescue ($platforms)"
grub-mkrescue -o "$work/nestbox-test-guest.iso" \
  --install-modules="linux linux16 normal configfile iso9660 search search_fs_uuid search_label search_fs_file serial terminal test echo fat all_video part_msdos part_gpt part_apple part_acorn part_amiga part_bsd part_dfly part_dvh part_plan part_sun part_sunpc" \
  --fonts= --locales= --themes= --compress=xz \
  "$isoroot" -- -volid NESTBOX_GUEST >&2 2>"$work/grub-mkrescue.log" ||
  { cat "$work/grub-mkrescue.log" >&2; die "grub-mkrescue failed"; }

cat >"$work/build-info.txt" <<EOF
kernel_pkg=$kernel_pkg
kernel_version=$kernel_ver
kernel_release=$kver
modules_pkg=${modules_pkg:-}
busybox_version=$busybox_ver
grub_platforms=$platforms
modules=${order[*]}
agent=${agent_vers[*]}
EOF

# Publish atomically: the ISO appears under its final name only when complete.
mkdir -p "$out_dir"
mv -f "$work/build-info.txt" "$out_dir/build-info.txt"
mv -f "$work/nestbox-test-guest.iso" "$iso"
log "built $(du -h "$iso" | cut -f1) ISO in $((SECONDS - start)) s"
printf '%s\n' "$iso"
