import { describe, expect, it } from 'vitest';
import { detectOsFromIso, type IsoFacts } from '../../../../src/core/domain/osdetect';

const none: IsoFacts = { volumeId: '', diskInfo: null, idwbinfo: null, grubCfg: null };

describe('detectOsFromIso', () => {
  it('knows installer ISOs by their volume ids', () => {
    const cases: [string, string | null][] = [
      ['Debian 12.8.0 amd64 n', 'linux-debian'],
      ['Ubuntu-Server 24.04.1 LTS amd64', 'linux-ubuntu'],
      ['Fedora-WS-Live-41-1-4', 'linux-fedora'],
      ['ARCH_202412', 'linux-arch'],
      ['alpine-virt 3.21.0 x86_64', 'linux-alpine'],
      ['14_2_RELEASE_AMD64_CD', 'bsd-freebsd'],
      ['CCCOMA_X64FRE_EN-US_DV9', 'windows-11'],
      ['SSS_X64FREE_EN-US_DV9', 'windows-server-2022'],
      ['CENA_X64FREV_EN-US_DV9', 'windows-10'],
      ['GRMCULFRER_EN_DVD', 'windows-7'],
      ['NESTBOX_GUEST', null],
    ];
    for (const [volumeId, os] of cases) expect(detectOsFromIso({ ...none, volumeId })?.osType ?? null, volumeId).toBe(os);
  });

  it("prefers the ISO's own files: .disk/info, idwbinfo.txt's build branch, then the boot menu", () => {
    expect(detectOsFromIso({ ...none, volumeId: 'CDROM', diskInfo: 'Ubuntu-Server 22.04.4 LTS "Jammy Jellyfish" - Release amd64 (20240220)' })).toEqual({
      osType: 'linux-ubuntu', evidence: ".disk/info 'Ubuntu-Server 22.04.4 LTS \"Jammy Jellyfish\" - Release amd64 (20240220)'",
    });
    // Windows 10 22H2 media carry the same volume id as Windows 11's; the build branch tells them apart.
    expect(detectOsFromIso({ ...none, volumeId: 'CCCOMA_X64FRE_EN-US_DV9', idwbinfo: '[BUILDINFO]\r\nBuildArch=amd64\r\nBuildBranch=vb_release_svc_refresh\r\n' })?.osType).toBe('windows-10');
    expect(detectOsFromIso({ ...none, idwbinfo: 'BuildBranch=ge_release\n' })?.osType).toBe('windows-11');
    expect(detectOsFromIso({ ...none, idwbinfo: 'BuildBranch=fe_release\n' })?.osType).toBe('windows-server-2022');
    expect(detectOsFromIso({ ...none, volumeId: 'MYDISK', grubCfg: "menuentry 'Debian GNU/Linux' {" })?.evidence).toMatch(/boot menu/);
    expect(detectOsFromIso(none)).toBeNull();
  });
});
