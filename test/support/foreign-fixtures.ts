/**
 * Machine files written the way their tools write them, around disks a test names: a domain
 * as `virsh dumpxml` prints it (libvirt's domain XML format, with an OVMF loader and NVRAM),
 * a VirtualBox 7 settings file (VirtualBox's `.vbox` schema, settings version 1.19), a
 * UTM 4 bundle's config.plist, and OVFs as VMware's ovftool and VirtualBox 7 write them,
 * packed into an OVA as those tools pack it (makeOva).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface DomainFixture {
  readonly name?: string;
  readonly disk: string;
  readonly diskFormat?: string;
  readonly bus?: string;
  readonly uefi?: { readonly nvram: string } | null;
  readonly mac?: string;
  readonly nicModel?: string;
  readonly memoryKiB?: number;
  readonly vcpus?: number;
  /** Raw XML added inside <devices>. */
  readonly extraDevices?: string;
  /** Raw text before the root element (a DOCTYPE, say). */
  readonly prolog?: string;
}

export function domainXml(f: DomainFixture): string {
  const uefi = f.uefi
    ? `    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>${f.uefi.nvram}</nvram>
`
    : '';
  const bus = f.bus ?? 'sata';
  const dev = bus === 'virtio' ? 'vda' : bus === 'ide' ? 'hda' : 'sda';
  return `${f.prolog ?? ''}<domain type='kvm'>
  <name>${f.name ?? 'debian12'}</name>
  <uuid>5f2a9a4e-3b8c-4a51-9f0e-8c2d6b1e7a10</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>${f.memoryKiB ?? 262144}</memory>
  <currentMemory unit='KiB'>${f.memoryKiB ?? 262144}</currentMemory>
  <vcpu placement='static'>${f.vcpus ?? 1}</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-8.2'>hvm</type>
${uefi}    <boot dev='hd'/>
    <boot dev='cdrom'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='${f.diskFormat ?? 'raw'}'/>
      <source file='${f.disk}'/>
      <target dev='${dev}' bus='${bus}'/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sdb' bus='sata'/>
      <readonly/>
      <address type='drive' controller='0' bus='0' target='0' unit='1'/>
    </disk>
    <controller type='sata' index='0'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>
    </controller>
    <interface type='network'>
      <mac address='${f.mac ?? '52:54:00:3a:7c:11'}'/>
      <source network='default'/>
      <model type='${f.nicModel ?? 'e1000e'}'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <graphics type='spice' autoport='yes'>
      <listen type='address'/>
    </graphics>
    <video>
      <model type='virtio' heads='1' primary='yes'/>
    </video>
${f.extraDevices ?? ''}  </devices>
</domain>
`;
}

export interface VboxFixture {
  readonly name?: string;
  /** The disk's location as VirtualBox records it (relative to the .vbox's folder, or absolute). */
  readonly location: string;
  readonly format?: string;
  readonly mac?: string;
  readonly firmware?: 'BIOS' | 'EFI';
  readonly description?: string;
  /** A differencing image (a snapshot's current state) attached instead of the base. */
  readonly child?: string;
  /** The base medium's UUID (the one its VDI header holds); a fixed one by default. */
  readonly baseUuid?: string;
  /** A chain of differencing images, the base's child first; the last is attached. */
  readonly chain?: readonly { readonly location: string; readonly uuid: string; readonly format?: string }[];
  readonly prolog?: string;
  /** The NAT forward's host port (VirtualBox's 'ssh' rule). */
  readonly hostPort?: number;
}

export const VBOX_BASE_UUID = '{7d3c1f2e-9a4b-4c6d-8e1f-2a3b4c5d6e7f}';
const BASE_UUID = VBOX_BASE_UUID;
const CHILD_UUID = '{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}';

export function vboxXml(f: VboxFixture): string {
  const chain = f.chain ?? (f.child ? [{ location: f.child, uuid: CHILD_UUID }] : []);
  const base = f.baseUuid ? `{${f.baseUuid.replace(/[{}]/g, '')}}` : BASE_UUID;
  const attached = chain.length ? chain[chain.length - 1]!.uuid : base;
  // VirtualBox nests each differencing image inside the <HardDisk> it stands on.
  const nest = (i: number, indent: string): string =>
    i >= chain.length ? '' : `\n${indent}<HardDisk uuid="${chain[i]!.uuid}" location="${chain[i]!.location}" format="${chain[i]!.format ?? 'VDI'}">${nest(i + 1, indent + '  ')}${i + 1 < chain.length ? `\n${indent}` : ''}</HardDisk>\n${indent.slice(2)}`;
  const child = nest(0, '          ');
  return `${f.prolog ?? ''}<?xml version="1.0"?>
<!--
** DO NOT EDIT THIS FILE.
** If you make changes to this file while any VirtualBox related application
** is running, your changes will be overwritten later, without taking effect.
** Use VBoxManage or the VirtualBox Manager GUI to make changes.
-->
<VirtualBox xmlns="http://www.virtualbox.org/" version="1.19-linux">
  <Machine uuid="{c2d7a1b0-6e3f-4f2a-9b8c-1d0e2f3a4b5c}" name="${f.name ?? 'Moderator 1'}" OSType="Debian_64" snapshotFolder="Snapshots" lastStateChange="2026-11-30T10:12:44Z">
    <Description>${f.description ?? 'Moderation desk: keep the forward on 2222.'}</Description>
    <MediaRegistry>
      <HardDisks>
        <HardDisk uuid="${base}" location="${f.location}" format="${f.format ?? 'RAW'}" type="Normal">${child}</HardDisk>
      </HardDisks>
    </MediaRegistry>
    <ExtraData>
      <ExtraDataItem name="GUI/LastNormalWindowPosition" value="640,289,720,421"/>
    </ExtraData>
    <Hardware>
      <CPU count="1">
        <PAE enabled="false"/>
        <LongMode enabled="true"/>
        <HardwareVirtExLargePages enabled="true"/>
      </CPU>
      <Memory RAMSize="256"/>
      <Firmware type="${f.firmware ?? 'BIOS'}"/>
      <Boot>
        <Order position="1" device="HardDisk"/>
        <Order position="2" device="DVD"/>
        <Order position="3" device="None"/>
        <Order position="4" device="None"/>
      </Boot>
      <Display controller="VMSVGA" VRAMSize="16"/>
      <BIOS>
        <IOAPIC enabled="true"/>
        <SmbiosUuidLittleEndian enabled="true"/>
      </BIOS>
      <USB>
        <Controllers>
          <Controller name="OHCI" type="OHCI"/>
        </Controllers>
      </USB>
      <Network>
        <Adapter slot="0" enabled="true" MACAddress="${f.mac ?? '080027A1B2C3'}" type="82540EM">
          <NAT localhost-reachable="true">
            <Forwarding name="ssh" proto="1" hostport="${f.hostPort ?? 2222}" guestport="22"/>
          </NAT>
        </Adapter>
      </Network>
      <AudioAdapter codec="AD1980" driver="Pulse" enabled="true" enabledIn="false"/>
      <RTC localOrUTC="UTC"/>
      <Clipboard/>
      <StorageControllers>
        <StorageController name="IDE" type="PIIX4" PortCount="2" useHostIOCache="true" Bootable="true">
          <AttachedDevice passthrough="false" type="DVD" hotpluggable="false" port="1" device="0"/>
        </StorageController>
        <StorageController name="SATA" type="AHCI" PortCount="1" useHostIOCache="false" Bootable="true" IDE0MasterEmulationPort="0" IDE0SlaveEmulationPort="1" IDE1MasterEmulationPort="2" IDE1SlaveEmulationPort="3">
          <AttachedDevice type="HardDisk" hotpluggable="false" port="0" device="0">
            <Image uuid="${attached}"/>
          </AttachedDevice>
        </StorageController>
      </StorageControllers>
    </Hardware>
  </Machine>
</VirtualBox>
`;
}

export interface UtmDrive {
  readonly type: 'Disk' | 'CD' | 'LinuxKernel';
  readonly iface: 'VirtIO' | 'IDE' | 'SCSI' | 'NVMe' | 'USB' | 'Floppy';
  /** A file in the bundle's Data folder; absent: a removable drive (UTM keeps a bookmark instead). */
  readonly image?: string;
}

export interface UtmFixture {
  readonly name?: string;
  readonly arch?: string;
  readonly target?: string;
  readonly uefi?: boolean;
  readonly memoryMiB?: number;
  readonly cpus?: number;
  readonly drives: readonly UtmDrive[];
  readonly mac?: string;
  readonly nicHardware?: string;
  readonly mode?: 'Shared' | 'Emulated' | 'Host' | 'Bridged';
  readonly display?: string;
  readonly notes?: string;
  /** Replaces the DOCTYPE line Foundation writes (a foreign one, an entity declaration). */
  readonly doctype?: string;
  readonly backend?: string;
}

const IDS = ['A3F0C1D2-5B6E-4F70-8192-A3B4C5D6E7F8', '0B1C2D3E-4F50-4617-8293-A4B5C6D7E8F9', 'C4D5E6F7-0819-4A2B-9C3D-4E5F60718293'];

/**
 * A UTM 4 config.plist as Foundation's PropertyListEncoder writes it (XML format, Apple's
 * DOCTYPE, tab indentation, each dictionary's keys in sorted order), with the keys of UTM's
 * QEMU configuration (UTMQemuConfiguration and its System, QEMU, Drive, Network, Display,
 * Sharing, Input, Serial and Sound parts).
 */
export function utmPlist(f: UtmFixture): string {
  type V = string | number | boolean | readonly V[] | { readonly [k: string]: V };
  const out: string[] = [];
  const emit = (v: V, depth: number): void => {
    const pad = '\t'.repeat(depth);
    if (typeof v === 'string') out.push(`${pad}<string>${v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</string>`);
    else if (typeof v === 'number') out.push(`${pad}<integer>${v}</integer>`);
    else if (typeof v === 'boolean') out.push(`${pad}<${v}/>`);
    else if (Array.isArray(v)) {
      if (v.length === 0) out.push(`${pad}<array/>`);
      else {
        out.push(`${pad}<array>`);
        for (const x of v as readonly V[]) emit(x, depth + 1);
        out.push(`${pad}</array>`);
      }
    } else {
      const d = v as { readonly [k: string]: V };
      out.push(`${pad}<dict>`);
      for (const k of Object.keys(d).sort()) {
        out.push(`${pad}\t<key>${k}</key>`);
        emit(d[k]!, depth + 1);
      }
      out.push(`${pad}</dict>`);
    }
  };
  const config: V = {
    Backend: f.backend ?? 'QEMU',
    ConfigurationVersion: 4,
    Display: f.display === '' ? [] : [{ DownscalingFilter: 'Linear', DynamicResolution: true, Hardware: f.display ?? 'virtio-vga', NativeResolution: false, UpscalingFilter: 'Nearest' }],
    Drive: f.drives.map((d, i) => ({
      Identifier: IDS[i % IDS.length]!,
      ...(d.image ? { ImageName: d.image } : {}),
      ImageType: d.type,
      Interface: d.iface,
      InterfaceVersion: 1,
      ReadOnly: d.type === 'CD',
    })),
    Information: { Icon: 'debian', IconCustom: false, Name: f.name ?? 'Debian', ...(f.notes ? { Notes: f.notes } : {}), UUID: 'D0E1F2A3-B4C5-4D6E-8F70-819203A4B5C6' },
    Input: { MaximumUsbShare: 3, UsbBusSupport: '3.0', UsbSharing: false },
    Network: [{ Hardware: f.nicHardware ?? 'virtio-net-pci', IsolateFromHost: false, MacAddress: f.mac ?? '3A:5C:11:7E:20:4B', Mode: f.mode ?? 'Shared', PortForward: [] }],
    QEMU: { AdditionalArguments: [], BalloonDevice: false, DebugLog: false, Hypervisor: true, PS2Controller: false, RNGDevice: true, RTCLocalTime: false, TPMDevice: false, TSO: false, UEFIBoot: f.uefi ?? true },
    Serial: [],
    Sharing: { ClipboardSharing: true, DirectoryShareMode: 'None', DirectoryShareReadOnly: false },
    Sound: [{ Hardware: 'intel-hda' }],
    System: { Architecture: f.arch ?? 'x86_64', CPU: 'default', CPUCount: f.cpus ?? 1, CPUFlagsAdd: [], CPUFlagsRemove: [], ForceMulticore: false, JITCacheSize: 0, MemorySize: f.memoryMiB ?? 256, Target: f.target ?? 'q35' },
  };
  emit(config, 0);
  return `<?xml version="1.0" encoding="UTF-8"?>
${f.doctype ?? '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">'}
<plist version="1.0">
${out.join('\n')}
</plist>
`;
}

/** An OVF as VMware's ovftool writes it for an EFI VM: LSI Logic SCSI, vmxnet3 with its MAC, vmw:Config firmware. */
export function vmwareOvf(opts: { readonly mac: string; readonly memoryMiB?: number; readonly capacityMiB?: number }): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="build-20800274" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="efi-vm-disk1.vmdk" ovf:id="file1"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="${opts.capacityMiB ?? 64}" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="0"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network"><Description>The VM Network network</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="efi-vm">
    <Info>A virtual machine</Info>
    <Name>efi-vm</Name>
    <OperatingSystemSection ovf:id="96" vmw:osType="debian11_64Guest"><Info>The kind of installed guest operating system</Info></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemIdentifier>efi-vm</vssd:VirtualSystemIdentifier><vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType></System>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:Description>Number of Virtual CPUs</rasd:Description><rasd:ElementName>2 virtual CPU(s)</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:Description>Memory Size</rasd:Description><rasd:ElementName>${opts.memoryMiB ?? 256}MB of memory</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>${opts.memoryMiB ?? 256}</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:Description>SCSI Controller</rasd:Description><rasd:ElementName>SCSI Controller 0</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:Description>SATA Controller</rasd:Description><rasd:ElementName>SATA Controller 0</rasd:ElementName><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceSubType>vmware.sata.ahci</rasd:ResourceSubType><rasd:ResourceType>20</rasd:ResourceType></Item>
      <Item ovf:required="false"><rasd:AutomaticAllocation>false</rasd:AutomaticAllocation><rasd:ElementName>USB Controller (EHCI)</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceSubType>vmware.usb.ehci</rasd:ResourceSubType><rasd:ResourceType>23</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>Hard Disk 1</rasd:ElementName><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item ovf:required="false"><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:AutomaticAllocation>false</rasd:AutomaticAllocation><rasd:ElementName>CD/DVD Drive 1</rasd:ElementName><rasd:InstanceID>7</rasd:InstanceID><rasd:Parent>4</rasd:Parent><rasd:ResourceSubType>vmware.cdrom.remotepassthrough</rasd:ResourceSubType><rasd:ResourceType>15</rasd:ResourceType></Item>
      <Item><rasd:Address>${opts.mac}</rasd:Address><rasd:AddressOnParent>7</rasd:AddressOnParent><rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Connection>VM Network</rasd:Connection><rasd:Description>VmxNet3 ethernet adapter on "VM Network"</rasd:Description><rasd:ElementName>Network adapter 1</rasd:ElementName><rasd:InstanceID>8</rasd:InstanceID><rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
}

/** An OVF as VirtualBox 7 exports it: OVF 1.0 items plus its vbox:Machine section (settings format 1.19). */
export function virtualBoxOvf(opts: { readonly firmware: 'BIOS' | 'EFI'; readonly mac: string; readonly capacityBytes?: number }): string {
  return `<?xml version="1.0"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References>
    <File ovf:id="file1" ovf:href="Moderator 1-disk001.vmdk"/>
  </References>
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
    <Disk ovf:capacity="${opts.capacityBytes ?? 107374182400}" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" vbox:uuid="3f6e0a4c-7d2b-4a6e-9d7e-0c1a2b3c4d5e"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks used in the package</Info>
    <Network ovf:name="NAT"><Description>Logical network used by this appliance.</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="Moderator 1">
    <Info>A virtual machine</Info>
    <OperatingSystemSection ovf:id="96">
      <Info>The kind of installed guest operating system</Info>
      <Description>Debian_64</Description>
      <vbox:OSType ovf:required="false">Debian_64</vbox:OSType>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemIdentifier>Moderator 1</vssd:VirtualSystemIdentifier><vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType></System>
      <Item><rasd:Caption>1 virtual CPU</rasd:Caption><rasd:Description>Number of virtual CPUs</rasd:Description><rasd:ElementName>1 virtual CPU</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits><rasd:Caption>256 MB of memory</rasd:Caption><rasd:Description>Memory Size</rasd:Description><rasd:ElementName>256 MB of memory</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>256</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:Caption>ideController0</rasd:Caption><rasd:Description>IDE Controller</rasd:Description><rasd:ElementName>ideController0</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>PIIX4</rasd:ResourceSubType><rasd:ResourceType>5</rasd:ResourceType></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:Caption>sataController0</rasd:Caption><rasd:Description>SATA Controller</rasd:Description><rasd:ElementName>sataController0</rasd:ElementName><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceSubType>AHCI</rasd:ResourceSubType><rasd:ResourceType>20</rasd:ResourceType></Item>
      <Item><rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Caption>Ethernet adapter on 'NAT'</rasd:Caption><rasd:Connection>NAT</rasd:Connection><rasd:ElementName>Ethernet adapter on 'NAT'</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceSubType>virtio</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:Caption>disk1</rasd:Caption><rasd:Description>Disk Image</rasd:Description><rasd:ElementName>disk1</rasd:ElementName><rasd:HostResource>/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>4</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Caption>cdrom1</rasd:Caption><rasd:Description>CD-ROM Drive</rasd:Description><rasd:ElementName>cdrom1</rasd:ElementName><rasd:InstanceID>7</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>15</rasd:ResourceType></Item>
    </VirtualHardwareSection>
    <vbox:Machine ovf:required="false" version="1.19-linux" uuid="{0d2c8b7e-1111-4222-8333-944455556666}" name="Moderator 1" OSType="Debian_64" snapshotFolder="Snapshots">
      <ovf:Info>Complete VirtualBox machine configuration in VirtualBox format</ovf:Info>
      <Description>moderates things</Description>
      <Hardware>
        <CPU count="1"><PAE enabled="true"/><LongMode enabled="true"/></CPU>
        <Memory RAMSize="256"/>
        <Firmware type="${opts.firmware}"/>
        <Boot><Order position="1" device="HardDisk"/><Order position="2" device="DVD"/><Order position="3" device="None"/><Order position="4" device="None"/></Boot>
        <Display controller="VMSVGA" VRAMSize="16" accelerate3D="true"/>
        <USB><Controllers><Controller name="OHCI" type="OHCI"/></Controllers><DeviceFilters><DeviceFilter name="Stick" active="true" vendorId="0781"/></DeviceFilters></USB>
        <Network>
          <Adapter slot="0" enabled="true" MACAddress="${opts.mac}" type="virtio"><NAT><Forwarding name="ssh" proto="1" hostip="127.0.0.1" hostport="2222" guestport="22"/></NAT></Adapter>
          <Adapter slot="1" enabled="true" MACAddress="080027112233" type="82540EM"><HostOnlyInterface name="vboxnet0"/></Adapter>
        </Network>
        <AudioAdapter driver="Pulse" enabled="true"/>
        <SharedFolders><SharedFolder name="home" hostPath="/home/me" writable="true" autoMount="true"/></SharedFolders>
        <StorageControllers>
          <StorageController name="IDE" type="PIIX4" PortCount="2" useHostIOCache="true" Bootable="true">
            <AttachedDevice passthrough="false" type="DVD" hotpluggable="false" port="1" device="0"/>
          </StorageController>
          <StorageController name="SATA" type="AHCI" PortCount="1" useHostIOCache="false" Bootable="true" IDE0MasterEmulationPort="0">
            <AttachedDevice type="HardDisk" hotpluggable="false" port="0" device="0"><Image uuid="{3f6e0a4c-7d2b-4a6e-9d7e-0c1a2b3c4d5e}"/></AttachedDevice>
          </StorageController>
        </StorageControllers>
      </Hardware>
    </vbox:Machine>
  </VirtualSystem>
</Envelope>
`;
}

export interface OvaFixture {
  /** The raw disk image the OVA's one disk is made from. */
  readonly raw: string;
  /** An empty folder (made here) where the OVA's files are written before they are packed. */
  readonly staging: string;
  /** The OVF's and the manifest's name without extension: `NAME.ovf`, `NAME.mf`. */
  readonly name: string;
  /** The disk's file name in the OVA (a streamOptimized VMDK). */
  readonly disk: string;
  /** The OVF itself (vmwareOvf, virtualBoxOvf), naming `disk`. */
  readonly ovf: string;
  /** The manifest's spelling: ovftool's `SHA256(F)= D` or VirtualBox's `SHA256 (F) = D`. */
  readonly manifest: 'ovftool' | 'virtualbox';
  /** Where the OVA is written. */
  readonly ova: string;
}

/**
 * An OVA as ovftool and VirtualBox pack one: the disk converted by qemu-img to a
 * streamOptimized VMDK, the OVF, a SHA-256 manifest of both, in a ustar archive in the
 * order OVF, manifest, disk (the OVF must come first). Returns the OVA's path.
 */
export function makeOva(f: OvaFixture): string {
  fs.mkdirSync(f.staging);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', f.raw, path.join(f.staging, f.disk)]);
  const ovf = `${f.name}.ovf`;
  const mf = `${f.name}.mf`;
  fs.writeFileSync(path.join(f.staging, ovf), f.ovf);
  const digest = (file: string) => execFileSync('sha256sum', [path.join(f.staging, file)], { encoding: 'utf8' }).split(' ')[0];
  const line = (file: string) => (f.manifest === 'ovftool' ? `SHA256(${file})= ${digest(file)}\n` : `SHA256 (${file}) = ${digest(file)}\n`);
  fs.writeFileSync(path.join(f.staging, mf), line(ovf) + line(f.disk));
  execFileSync('tar', ['--format=ustar', '-cf', f.ova, '-C', f.staging, ovf, mf, f.disk]);
  return f.ova;
}
