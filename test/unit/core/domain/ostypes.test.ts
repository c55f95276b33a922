import { describe, expect, it } from 'vitest';
import { matchOsType, OS_TYPES, unknownOsTypeMessage } from '../../../../src/core/domain/ostypes';

describe('OS types as a person types them', () => {
  it('takes every id as it is', () => {
    for (const t of OS_TYPES) expect(matchOsType(t.id)?.id).toBe(t.id);
  });

  it('takes a name in any case, and the id without its family', () => {
    expect(matchOsType('debian')?.id).toBe('linux-debian');
    expect(matchOsType('Debian')?.id).toBe('linux-debian');
    expect(matchOsType('Windows 11')?.id).toBe('windows-11');
    expect(matchOsType('arch linux')?.id).toBe('linux-arch');
    expect(matchOsType('Arch_Linux')?.id).toBe('linux-arch');
    expect(matchOsType('server-2022')?.id).toBe('windows-server-2022');
    expect(matchOsType('2025')?.id).toBe('windows-server-2025');
    expect(matchOsType(' FreeBSD ')?.id).toBe('bsd-freebsd');
    expect(matchOsType('other')?.id).toBe('other');
    expect(matchOsType('Other Linux')?.id).toBe('linux-other');
  });

  it('answers nothing when nothing or several types fit', () => {
    expect(matchOsType('plan9')).toBeUndefined();
    expect(matchOsType('')).toBeUndefined();
    expect(matchOsType('   ')).toBeUndefined();
    // 'windows' is a family, not a type: three Windows types end in a number.
    expect(matchOsType('windows')).toBeUndefined();
    expect(matchOsType('linux')).toBeUndefined();
  });

  it('suggests the near ones in its error', () => {
    expect(unknownOsTypeMessage('windows')).toBe(
      "unknown OS type 'windows' (did you mean 'windows-11', 'windows-10', 'windows-server-2022', 'windows-server-2025', 'windows-7'? see 'nestbox ostypes')",
    );
    expect(unknownOsTypeMessage('plan9')).toBe("unknown OS type 'plan9' (see 'nestbox ostypes')");
  });
});
