# Sourced by the scripts that make a variant of the test guest from build.sh's ISO
# (build-desktop.sh, cloud-variant.sh): the variant is the same kernel and GRUB configuration
# with more in the initrd. Its files go in an overlay folder that is appended to the base's
# initrd as one more gzip'd cpio member (the kernel unpacks them in order, so a later file
# replaces an earlier one), and the ISO is made again with grub-mkrescue as build.sh makes it:
# xorriso cannot replay the base's GPT with a new initrd.
#
#   repack_extract_initrd BASE_ISO WORK          -> WORK/initrd.gz, the base's initrd (writable)
#   repack_append_overlay OVERLAY WORK LEVEL     appends OVERLAY's files (gzip -LEVEL)
#   repack_iso BASE_ISO WORK VOLID OUT_ISO       the base's kernel and grub.cfg + WORK/initrd.gz
#
# Each returns non-zero (with grub-mkrescue's log on stderr) when a step fails; the callers
# run under `set -e`, so the functions must not be called on the left of || or &&.
# Host tools: xorriso, cpio, gzip, grub-mkrescue.

repack_extract_initrd() {
  local base=$1 work=$2
  xorriso -osirrox on -indev "$base" -extract /boot/initrd.gz "$work/initrd.gz" 2>/dev/null || return 1
  chmod u+w "$work/initrd.gz"
}

repack_append_overlay() {
  local ov=$1 work=$2 level=$3
  ( cd "$ov" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet ) | gzip "-${level}n" >>"$work/initrd.gz"
}

repack_iso() {
  local base=$1 work=$2 volid=$3 out=$4
  local tree=$work/iso
  mkdir -p "$tree/boot/grub"
  xorriso -osirrox on -indev "$base" -extract /boot/vmlinuz "$tree/boot/vmlinuz" -extract /boot/grub/grub.cfg "$tree/boot/grub/grub.cfg" 2>/dev/null || return 1
  cp "$work/initrd.gz" "$tree/boot/initrd.gz"
  chmod -R u+w "$tree"
  if ! grub-mkrescue -o "$out" \
    --install-modules="linux linux16 normal configfile iso9660 search search_fs_uuid search_label search_fs_file serial terminal test echo all_video part_msdos part_gpt" \
    --fonts= --locales= --themes= --compress=xz "$tree" -- -volid "$volid" >"$work/mkrescue.log" 2>&1; then
    cat "$work/mkrescue.log" >&2
    printf 'grub-mkrescue failed\n' >&2
    return 1
  fi
}
