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
pidof libvirtd >/dev/null || libvirtd -d
for i in $(seq 1 50); do
  virsh -c qemu:///system version >/dev/null 2>&1 && { echo "libvirtd is up"; exit 0; }
  sleep 0.2
done
echo "libvirtd did not come up; see /var/log/libvirt/libvirtd.log" >&2
exit 1
