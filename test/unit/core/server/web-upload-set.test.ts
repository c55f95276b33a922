/** The path and list rules of web mode's machine uploads (web-upload-set.ts), without a server. */
import { describe, expect, it } from 'vitest';
import { checkManifest, checkSetPath, MAX_SET_FILES } from '../../../../src/core/server/web-upload-set';

describe('checkSetPath', () => {
  it('keeps the names machine files use, VirtualBox’s braces and spaces included, in NFC', () => {
    for (const p of ['Moderator 1.vbox', 'Snapshots/{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}.vdi', 'Debian.utm/Data/efi_vars.fd', 'web (2).qcow2', 'Ünïcode/disk.vdi']) {
      expect(checkSetPath(p)).toEqual({ path: p });
    }
    // macOS hands out decomposed names; they are stored composed.
    expect(checkSetPath('Cafe\u0301.vdi')).toEqual({ path: 'Caf\u00e9.vdi' });
  });

  it('refuses whatever could leave the folder or hide in it, naming the path', () => {
    for (const p of ['../x.vdi', 'a/../../x', 'a/./x', '.', '..', '/etc/passwd', 'C:/x.vdi', 'c:x', 'a\\..\\x', '.hidden', 'a/.git/config', 'a//b', 'a/', '', 'x.partial', 'a\u0000b', 'a\nb', `${'d/'.repeat(8)}x`, 'x'.repeat(1025)]) {
      expect(checkSetPath(p), JSON.stringify(p)).toHaveProperty('error');
    }
    expect(checkSetPath('ä'.repeat(128))).toHaveProperty('error');
    expect(checkSetPath(42)).toHaveProperty('error');
    expect(checkSetPath('../evil.vbox')).toEqual({ error: 'the path "../evil.vbox" has a \'..\' part; only paths inside the upload are accepted' });
  });
});

describe('checkManifest', () => {
  const MAX = 1000;
  it('accepts a machine’s files and sums their sizes', () => {
    expect(checkManifest({ files: [{ path: 'a.vbox', size: 10 }, { path: 'Snapshots/b.vdi', size: 990 }] }, MAX)).toEqual({
      files: [{ path: 'a.vbox', size: 10 }, { path: 'Snapshots/b.vdi', size: 990 }],
      total: 1000,
    });
  });

  it('refuses empty, oversized, duplicate and self-contradicting lists', () => {
    const bad: unknown[] = [
      null,
      {},
      { files: [] },
      { files: 'a.vbox' },
      { files: [{ path: 'a', size: MAX + 1 }] },
      { files: [{ path: 'a', size: 600 }, { path: 'b', size: 401 }] },
      { files: [{ path: 'a', size: -1 }] },
      { files: [{ path: 'a', size: '1' }] },
      { files: [{ path: 'a', size: 1 }, { path: 'a', size: 1 }] },
      // The same name once composed and once decomposed is one file.
      { files: [{ path: 'Caf\u00e9', size: 1 }, { path: 'Cafe\u0301', size: 1 }] },
      { files: [{ path: 'Data', size: 1 }, { path: 'Data/x', size: 1 }] },
      { files: Array.from({ length: MAX_SET_FILES + 1 }, (_, i) => ({ path: `f${i}`, size: 0 })) },
    ];
    for (const b of bad) expect(checkManifest(b, MAX), JSON.stringify(b)?.slice(0, 60)).toHaveProperty('error');
  });
});
