#!/usr/bin/env bash
# Build the Nestbox Secure Boot test guest: a UEFI-only ISO whose El Torito EFI image holds
# Debian's signed shim (shim-signed), Debian's signed GRUB (grub-efi-amd64-signed) and the
# signed Debian kernel (linux-image-amd64), with a busybox initramfs that reports on the
# serial port:
#   NESTBOX-SB <0|1>                     SecureBoot variable read from efivarfs
#   NESTBOX-TPM <major>|absent           /sys/class/tpm/tpm0 and its tpm_version_major
#   NESTBOX-TPM-VALUE <16 hex>|none      an 8-byte value in TPM NV index 0x01500001
# and gives a shell on ttyS0 with `tpm-set <16 hex digits>` and `tpm-get` (raw TPM 2.0
# commands written to /dev/tpm0 with busybox alone).
#
# A second ISO beside it, nestbox-sb-unsigned.iso, is the same chain with the kernel's
# Authenticode signature stripped: Secure Boot must refuse to boot it.
#
# Usage:   iso=$(bash test/guest/build-secureboot.sh | tail -1)
#
# The LAST stdout line is the signed ISO's absolute path; progress goes to stderr. Cached
# like build.sh under ${NESTBOX_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nestbox/test-guest}/sb-<hash>/,
# <hash> covering this script and the package versions. Packages are fetched with
# `apt-get download` and unpacked, never installed. Build host needs: apt dpkg coreutils
# cpio gzip xorriso mtools (NESTBOX_GUEST_FORCE=1 rebuilds).
set -euo pipefail
export LC_ALL=C

log() { printf 'nestbox-sb-guest: %s\n' "$*" >&2; }
die() { printf 'nestbox-sb-guest: error: %s\n' "$*" >&2; exit 1; }
script_path=$(readlink -f "${BASH_SOURCE[0]}")

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2 (for '$1')"); }
need apt-get apt; need apt-cache apt; need dpkg-deb dpkg; need sha256sum coreutils; need flock util-linux
need gzip gzip; need cpio cpio; need xorriso xorriso; need mformat mtools; need mcopy mtools; need od coreutils
((${#missing[@]} == 0)) || die "missing tools; install these Debian packages first: ${missing[*]}"

version_of() { apt-cache show --no-all-versions "$1" 2>/dev/null | awk '/^Version: /{print $2; exit}'; }
deps=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null | awk '/^Depends: /{sub(/^Depends: /,""); print; exit}')
kernel_pkg=$(grep -o 'linux-image-[0-9][^ ,|]*' <<<"$deps" | head -n1) || true
[[ -n $kernel_pkg ]] || die "cannot resolve the kernel package that linux-image-amd64 depends on (no Debian apt sources, or run apt-get update)"
pkgs=()
for p in "$kernel_pkg" busybox-static shim-signed grub-efi-amd64-signed; do
  v=$(version_of "$p")
  [[ -n $v ]] || die "apt knows no package $p (Debian apt sources needed; run apt-get update)"
  pkgs+=("$p=$v")
done

hash=$( { cat "$script_path"; printf '%s\n' "${pkgs[@]}"; } | sha256sum | cut -c1-16)
cache_root=${NESTBOX_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nestbox/test-guest}
mkdir -p "$cache_root"
cache_root=$(cd "$cache_root" && pwd -P)
out_dir=$cache_root/sb-$hash
iso=$out_dir/nestbox-sb.iso
if [[ ${NESTBOX_GUEST_FORCE:-0} != 1 && -s $iso && -s $out_dir/nestbox-sb-unsigned.iso ]]; then
  log "cached: ${pkgs[*]}"
  printf '%s\n' "$iso"
  exit 0
fi
exec 9>"$cache_root/.lock-sb"
flock 9
if [[ ${NESTBOX_GUEST_FORCE:-0} != 1 && -s $iso && -s $out_dir/nestbox-sb-unsigned.iso ]]; then
  printf '%s\n' "$iso"
  exit 0
fi
work=$(mktemp -d "$cache_root/.build-sb.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "building in $work: ${pkgs[*]}"

mkdir -p "$work/debs" "$work/pkg"
( cd "$work/debs" && apt-get download -q "${pkgs[@]}" ) >&2 2> >(grep -v 'Download is performed unsandboxed' >&2) ||
  die "apt-get download ${pkgs[*]} failed"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/pkg"; done
rm -rf "$work/debs"
pkg=$work/pkg
shim=$pkg/usr/lib/shim/shimx64.efi.signed
grub=$pkg/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed
[[ -f $shim ]] || shim=$(find "$pkg" -name 'shimx64.efi.signed*' | head -n1)
[[ -f $shim ]] || die "no shimx64.efi.signed in shim-signed"
[[ -f $grub ]] || die "no grubx64.efi.signed in grub-efi-amd64-signed"
vmlinuz=$(find "$pkg/boot" -name 'vmlinuz-*' | head -n1)
[[ -f $vmlinuz ]] || die "no /boot/vmlinuz-* in $kernel_pkg"
kver=${vmlinuz##*/vmlinuz-}
moddir=$pkg/lib/modules/$kver
[[ -d $moddir ]] || moddir=$pkg/usr/lib/modules/$kver

# --- initramfs ---------------------------------------------------------------------
root=$work/initramfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root} "$root/lib/modules"
cp "$pkg/bin/busybox" "$root/bin/busybox"
"$root/bin/busybox" --list-full | while IFS= read -r a; do
  [[ -n $a && $a != bin/busybox && ! -e $root/$a ]] && ln -s /bin/busybox "$root/$a"
  true
done
# Modules the report needs when they are not built in (dependencies of these are built in on Debian).
for m in efivarfs tpm_tis tpm_tis_core tpm_crb; do
  f=$(find "$moddir" -name "$m.ko*" | head -n1)
  [[ -n $f ]] || continue
  case $f in
    *.ko.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -dcq "$f" >"$root/lib/modules/$m.ko" ;;
    *) cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
done

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
exec /sbin/init
EOF
cat >"$root/etc/inittab" <<'EOF'
::sysinit:/etc/rcS
ttyS0::respawn:-/bin/sh
::shutdown:/bin/sh -c 'echo NESTBOX-GUEST-SHUTDOWN >/dev/ttyS0'
EOF
# tpm-set / tpm-get: TPM2_NV_DefineSpace, TPM2_NV_Write and TPM2_NV_Read on index 0x01500001
# (8 bytes, owner/auth read+write, no dictionary-attack lockout) with an empty-password
# session, written to /dev/tpm0 in one write and answered on the same open file.
cat >"$root/bin/tpm-cmd" <<'EOF'
#!/bin/sh
# tpm-cmd <hex bytes>: sends one command, prints the response as hex
exec 3<>/dev/tpm0 || exit 1
printf "$(echo "$*" | tr -d ' ' | sed 's/\(..\)/\\x\1/g')" >&3
dd bs=4096 count=1 <&3 2>/dev/null | od -An -v -tx1 | tr -d ' \n'
exec 3>&-
EOF
cat >"$root/bin/tpm-get" <<'EOF'
#!/bin/sh
r=$(tpm-cmd 800200000023 0000014e 01500001 01500001 00000009 40000009 0000 00 0000 0008 0000 | tr -d ' ')
rc=$(echo "$r" | cut -c13-20)
if [ "$rc" = 00000000 ]; then echo "NESTBOX-TPM-VALUE $(echo "$r" | cut -c33-48)"; else echo "NESTBOX-TPM-VALUE none rc=$rc"; fi
EOF
cat >"$root/bin/tpm-set" <<'EOF'
#!/bin/sh
v=$(echo "$1" | tr -cd 0-9a-f)
[ ${#v} = 16 ] || { echo "usage: tpm-set <16 hex digits>"; exit 2; }
d=$(tpm-cmd 80020000002d 0000012a 40000001 00000009 40000009 0000 00 0000 0000 000e 01500001 000b 02060006 0000 0008 | tr -d ' ')
drc=$(echo "$d" | cut -c13-20)
w=$(tpm-cmd 80020000002b 00000137 01500001 01500001 00000009 40000009 0000 00 0000 0008 "$v" 0000 | tr -d ' ')
wrc=$(echo "$w" | cut -c13-20)
echo "NESTBOX-TPM-SET define=$drc write=$wrc"
EOF
cat >"$root/etc/rcS" <<'EOF'
#!/bin/sh
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in /lib/modules/*.ko; do [ -e "$m" ] && insmod "$m" 2>/dev/null; done
mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
say() { printf '%s\n' "$*" >/dev/ttyS0; }
sb=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
if [ -e "$sb" ]; then say "NESTBOX-SB $(od -An -tu1 "$sb" | awk '{print $5}')"; else say "NESTBOX-SB unknown"; fi
i=0; while [ ! -e /dev/tpm0 ] && [ $i -lt 30 ]; do usleep 100000; i=$((i + 1)); done
if [ -e /sys/class/tpm/tpm0 ]; then say "NESTBOX-TPM $(cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null || echo unknown)"; else say "NESTBOX-TPM absent"; fi
[ -e /dev/tpm0 ] && say "$(tpm-get)"
say NESTBOX-GUEST-READY
EOF
chmod 755 "$root/init" "$root/etc/rcS" "$root/bin/tpm-cmd" "$root/bin/tpm-get" "$root/bin/tpm-set"
( cd "$root" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet ) | gzip -9n >"$work/initrd.gz"

# --- the unsigned kernel: the same image with its Authenticode certificate table removed ----
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
pe=$(le32 "$vmlinuz" 60)
certdir=$((pe + 24 + 144)) # PE32+ optional header, data directory 4 (certificate table)
certoff=$(le32 "$vmlinuz" "$certdir")
((certoff > 0)) || die "the kernel $kver carries no signature; is it Debian's signed kernel?"
cp "$vmlinuz" "$work/vmlinuz-unsigned"
dd if=/dev/zero of="$work/vmlinuz-unsigned" bs=1 seek="$certdir" count=8 conv=notrunc status=none
truncate -s "$certoff" "$work/vmlinuz-unsigned"

# --- ISOs: an El Torito EFI (FAT) image holding the whole chain -------------------------------
make_iso() { # make_iso <kernel> <out>
  # Shim and GRUB in the El Torito EFI image; GRUB (which cannot see that image) finds the
  # rest on the ISO 9660 file system: its built-in config searches for /.disk/info and reads
  # /boot/grub/grub.cfg.
  local esp=$work/esp.img iso9660=$work/isoroot
  rm -rf "$esp" "$iso9660"
  mkdir -p "$iso9660/.disk" "$iso9660/boot/grub" "$iso9660/efi"
  echo "Nestbox Secure Boot test guest" >"$iso9660/.disk/info"
  : >"$iso9660/nestbox-sb.marker"
  cat >"$iso9660/boot/grub/grub.cfg" <<'EOF'
set timeout=0
search --file --set=root /nestbox-sb.marker
linux ($root)/vmlinuz console=ttyS0,115200 loglevel=3 panic=10
initrd ($root)/initrd.gz
boot
EOF
  cp "$1" "$iso9660/vmlinuz"
  cp "$work/initrd.gz" "$iso9660/initrd.gz"
  truncate -s 8M "$esp"
  mformat -i "$esp" -v NESTBOX_SB ::
  mmd -i "$esp" ::/EFI ::/EFI/BOOT
  mcopy -i "$esp" "$shim" ::/EFI/BOOT/BOOTX64.EFI
  mcopy -i "$esp" "$grub" ::/EFI/BOOT/grubx64.efi
  cp "$esp" "$iso9660/efi/efiboot.img"
  xorriso -as mkisofs -quiet -R -J -V NESTBOX_SB -e efi/efiboot.img -no-emul-boot -o "$2" "$iso9660" >&2
}
make_iso "$vmlinuz" "$work/nestbox-sb.iso"
make_iso "$work/vmlinuz-unsigned" "$work/nestbox-sb-unsigned.iso"
printf 'kernel=%s\nrelease=%s\npackages=%s\n' "$kernel_pkg" "$kver" "${pkgs[*]}" >"$work/build-info.txt"
mkdir -p "$out_dir"
mv -f "$work/build-info.txt" "$out_dir/"
mv -f "$work/nestbox-sb-unsigned.iso" "$out_dir/"
mv -f "$work/nestbox-sb.iso" "$iso"
log "built $iso"
printf '%s\n' "$iso"
