/** Nestbox's libvirt client: see LIBVIRT-INTERFACE.md for what the rest of the core relies on. */
export * from './types';
export { LibvirtConnection, type LibvirtConnectionOptions } from './connection';
export { buildDomainXml, checkDomainName, checkLibvirtName, domainRef, parseDomainXml, type DomainSpec, type DomainDiskSpec, type DomainNicSpec, type DiskSource, type DiskBus, type NicModel } from './domxml';
export { pnmToPng } from './ppm';
export { checkUri, hostOfUri } from './virsh';
export { parseLibvirtUri, sshArgvFor } from './streams';
