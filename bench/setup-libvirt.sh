#!/bin/sh
# Starts Debian's libvirtd by hand on a machine without systemd (a container, a CI runner) so
# the benchmarks can compare Nestbox with `virsh`. Needs root. On a desktop with systemd,
# `apt install libvirt-daemon-system` does all of this and this script is not needed.
set -eu
if ! command -v libvirtd >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
fi
# The QEMU driver runs guests as libvirt-qemu:kvm and refuses to start without them.
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /var/lib/libvirt -g kvm -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt
pidof virtlogd >/dev/null || virtlogd -d

# A /dev/kvm that libvirt's QEMU user cannot open (some containers and CI machines have a
# root-only one): libvirtd finds the device, its QEMU probe (run as libvirt-qemu) gets no KVM,
# and it probes QEMU again at every call (each `virsh define` then took tens of seconds). There
# libvirtd runs in a mount namespace of its own whose /dev is the host's without kvm: every
# other entry bind-mounted, ptmx pointing into pts. With a usable /dev/kvm nothing changes.
start_libvirtd() {
  if [ -e /dev/kvm ] && ! setpriv --reuid libvirt-qemu --regid kvm --init-groups test -r /dev/kvm -a -w /dev/kvm 2>/dev/null; then
    echo "/dev/kvm is there but libvirt-qemu cannot use it: libvirtd gets a /dev without it"
    unshare --mount --propagation private sh -eu -c '
      host=$(mktemp -d)
      mount --rbind /dev "$host"
      mount -t tmpfs -o mode=755,nosuid nestbox-dev /dev
      for e in "$host"/*; do
        n=${e##*/}
        case $n in kvm) continue ;; ptmx) ln -s pts/ptmx /dev/ptmx; continue ;; esac
        if [ -L "$e" ]; then cp -P "$e" "/dev/$n"
        elif [ -d "$e" ]; then mkdir "/dev/$n"; mount --rbind "$e" "/dev/$n"
        else touch "/dev/$n"; mount --bind "$e" "/dev/$n"
        fi
      done
      exec libvirtd -d'
  else
    libvirtd -d
  fi
}
pidof libvirtd >/dev/null || start_libvirtd
for i in $(seq 1 50); do
  virsh -c qemu:///system version >/dev/null 2>&1 && { echo "libvirtd is up"; exit 0; }
  sleep 0.2
done
echo "libvirtd did not come up; see /var/log/libvirt/libvirtd.log" >&2
exit 1
