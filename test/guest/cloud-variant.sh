#!/usr/bin/env bash
# The cloud-style variant of the Nestbox test guest: the same busybox guest, with one more
# boot step that reads a NoCloud seed the way cloud-init does — finds the block device
# labelled `cidata`, mounts it, takes the host name from meta-data/user-data, the user, its
# password hash and SSH key from user-data's cloud-config, applies them, and reports them on
# the serial port:
#   NESTBOX-CLOUD user=U host=H key=<first key> hashsum=<sha256 of the password hash>
# or NESTBOX-CLOUD-NOSEED when no seed is attached. The result is a qcow2 disk image (the
# hybrid ISO boots as a disk, as a cloud image does).
#
# Usage: img=$(bash test/guest/cloud-variant.sh BASE_ISO OUT_DIR | tail -1)
# Host tools: xorriso, cpio, gzip, grub-mkrescue, qemu-img (all already needed by build.sh or the tests).
set -euo pipefail
export LC_ALL=C
base=${1:?base ISO (test/guest/build.sh output)}
out=${2:?output directory}
mkdir -p "$out"
work=$(mktemp -d "$out/.cloud.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=iso-repack.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/iso-repack.sh"

repack_extract_initrd "$base" "$work"
ov=$work/overlay
mkdir -p "$ov/etc/init.d"
cat >"$ov/etc/inittab" <<'EOT'
::sysinit:/etc/init.d/rcS
::sysinit:/etc/init.d/cloud-seed
ttyS0::respawn:-/bin/sh
tty1::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/init.d/rcK
EOT
cat >"$ov/etc/init.d/cloud-seed" <<'EOT'
#!/bin/sh
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
say() { for t in /dev/ttyS0 /dev/tty0; do printf '%s\n' "$*" >"$t" 2>/dev/null; done; }
# cloud-init's NoCloud: the filesystem labelled cidata (blkid), else the label in the PVD.
dev=$(blkid 2>/dev/null | sed -n 's/^\([^:]*\):.*LABEL="cidata".*/\1/p' | head -n1)
if [ -z "$dev" ]; then
  for d in /dev/sr* /dev/sd* /dev/vd*; do
    [ -b "$d" ] || continue
    l=$(dd if="$d" bs=1 skip=32808 count=32 2>/dev/null | tr -d ' \0')
    [ "$l" = cidata ] && { dev=$d; break; }
  done
fi
[ -n "$dev" ] || { say NESTBOX-CLOUD-NOSEED; exit 0; }
mkdir -p /mnt/seed
mount -t iso9660 -o ro "$dev" /mnt/seed || { say "NESTBOX-CLOUD-MOUNT-FAILED $dev"; exit 0; }
ud=/mnt/seed/user-data md=/mnt/seed/meta-data
head -n1 "$ud" | grep -qx '#cloud-config' || { say NESTBOX-CLOUD-NOT-CLOUD-CONFIG; umount /mnt/seed; exit 0; }
# The values are JSON-quoted YAML scalars (what Nestbox writes; cloud-init's YAML reads them alike).
host=$(sed -n 's/^hostname: "\(.*\)"$/\1/p' "$ud" | head -n1)
[ -n "$host" ] || host=$(sed -n 's/^local-hostname: "\(.*\)"$/\1/p' "$md" | head -n1)
user=$(sed -n 's/^  - name: "\(.*\)"$/\1/p' "$ud" | head -n1)
hash=$(sed -n 's/^    passwd: "\(.*\)"$/\1/p' "$ud" | head -n1)
key=$(sed -n '/^    ssh_authorized_keys:/,$ s/^      - "\(.*\)"$/\1/p' "$ud" | head -n1)
umount /mnt/seed
hostname "$host"
echo "$host" >/etc/hostname
echo "$user:$hash:1000:1000:$user:/home/$user:/bin/sh" >>/etc/passwd
mkdir -p "/home/$user/.ssh"
echo "$key" >"/home/$user/.ssh/authorized_keys"
sum=$(grep "^$user:" /etc/passwd | cut -d: -f2 | tr -d '\n' | sha256sum | cut -d' ' -f1)
say "NESTBOX-CLOUD user=$(grep "^$user:" /etc/passwd | cut -d: -f1) host=$(hostname) key=$(cat "/home/$user/.ssh/authorized_keys") hashsum=$sum"
EOT
chmod 755 "$ov/etc/init.d/cloud-seed"
repack_append_overlay "$ov" "$work" 9
repack_iso "$base" "$work" NESTBOX_CLOUD "$work/cloud.iso"
qemu-img convert -f raw -O qcow2 "$work/cloud.iso" "$out/nestbox-cloud-guest.qcow2"
printf '%s\n' "$out/nestbox-cloud-guest.qcow2"
