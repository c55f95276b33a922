/** Apple XML property lists: Apple's one DOCTYPE accepted, every other refused, values typed. */
import { describe, expect, it } from 'vitest';
import { APPLE_PLIST_DOCTYPE, parsePlist, withoutAppleDoctype } from '../../../../src/core/storage/plist';

const ctx = { code: 'IMAGE_REJECTED', what: 'the plist' } as const;
const doc = (body: string, doctype = APPLE_PLIST_DOCTYPE) => `<?xml version="1.0" encoding="UTF-8"?>\n${doctype}\n<plist version="1.0">\n${body}\n</plist>\n`;

describe('parsePlist', () => {
  it('reads the values Foundation writes under Apple\'s DOCTYPE', () => {
    const d = parsePlist(doc('<dict>\n\t<key>A</key>\n\t<string>x &amp; y</string>\n\t<key>B</key>\n\t<integer>-12</integer>\n\t<key>C</key>\n\t<true/>\n\t<key>D</key>\n\t<array>\n\t\t<dict/>\n\t\t<real>1.5</real>\n\t</array>\n\t<key>E</key>\n\t<array/>\n</dict>'), ctx);
    expect(d).toEqual({ A: 'x & y', B: -12, C: true, D: [{}, 1.5], E: [] });
  });

  it('blanks out exactly Apple\'s DOCTYPE, keeping the offsets', () => {
    const t = doc('<dict/>');
    expect(withoutAppleDoctype(t)).toHaveLength(t.length);
    expect(withoutAppleDoctype(t)).not.toMatch(/DOCTYPE/);
  });

  it('refuses any other DOCTYPE: an internal subset with entities, a SYSTEM id, another public id, a second DOCTYPE', () => {
    const foreign = [
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd" [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
      '<!DOCTYPE plist SYSTEM "file:///etc/passwd">',
      '<!DOCTYPE plist PUBLIC "-//Evil//DTD PLIST 1.0//EN" "http://example.com/x.dtd">',
      `${APPLE_PLIST_DOCTYPE}\n<!DOCTYPE plist [<!ENTITY a "aaaa">]>`,
    ];
    for (const dt of foreign) expect(() => parsePlist(doc('<dict><key>A</key><string>&x;</string></dict>', dt), ctx)).toThrow(/DOCTYPE other than Apple's property list one/);
  });

  it('refuses an entity reference (none is declared), a dict key without a value, a duplicate key, and a value that is not one', () => {
    expect(() => parsePlist(doc('<dict><key>A</key><string>&lol;</string></dict>'), ctx)).toThrow(/the entity '&lol;' is not one XML predefines/);
    expect(() => parsePlist(doc('<dict><key>A</key></dict>'), ctx)).toThrow(/a key without a value/);
    expect(() => parsePlist(doc('<dict><key>A</key><true/><key>A</key><false/></dict>'), ctx)).toThrow(/appears twice/);
    expect(() => parsePlist(doc('<dict><key>A</key><script/></dict>'), ctx)).toThrow(/<script> is not a property list value/);
    expect(() => parsePlist(doc('<array/>'), ctx)).toThrow(/does not hold one <dict>/);
  });

  it('bounds a bomb of values', () => {
    const many = `<dict><key>A</key><array>${'<true/>'.repeat(20_000)}</array></dict>`;
    expect(() => parsePlist(doc(many), ctx)).toThrow(/more than 10000 values/);
  });
});
