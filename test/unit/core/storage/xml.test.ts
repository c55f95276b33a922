import { describe, expect, it } from 'vitest';
import { attr, child, childrenOf, escapeXml, parseXml } from '../../../../src/core/storage/xml';

describe('parseXml', () => {
  it('reads elements, attributes, text, CDATA and the predefined entities', () => {
    const root = parseXml(`<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<ovf:Envelope xmlns:ovf="urn:x" ovf:version='1.0'>
  <Name>a &amp; b &lt;c&gt; &#65;&#x42; &quot;q&quot; &apos;s&apos;</Name>
  <Empty ovf:id="e1"/>
  <Data><![CDATA[<not & parsed>]]></Data>
</ovf:Envelope>`);
    expect(root.name).toBe('ovf:Envelope');
    expect(attr(root, 'version')).toBe('1.0');
    expect(child(root, 'Name')!.text).toBe(`a & b <c> AB "q" 's'`);
    expect(attr(child(root, 'Empty')!, 'id')).toBe('e1');
    expect(child(root, 'Data')!.text).toBe('<not & parsed>');
    expect(childrenOf(root, 'Empty')).toHaveLength(1);
  });

  it.each([
    ['an internal DTD', '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', /DOCTYPE/],
    ['an external entity', '<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>', /DOCTYPE/],
    ['a billion laughs', '<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>', /DOCTYPE/],
    ['an undeclared entity', '<a>&nbsp;</a>', /not one XML predefines/],
    ['a bare ampersand', '<a>fish & chips</a>', /bare '&'/],
    ['mismatched tags', '<a><b></a></b>', /does not close/],
    ['an unclosed element', '<a><b>', /not closed/],
    ['two roots', '<a/><b/>', /more than one root/],
    ['a duplicate attribute', '<a x="1" x="2"/>', /appears twice/],
    ['an unquoted attribute', '<a x=1/>', /must be quoted/],
    ['a NUL character reference', '<a>&#0;</a>', /not valid/],
    ['no root', '<?xml version="1.0"?>', /no root/],
  ])('refuses %s', (_, text, why) => {
    expect(() => parseXml(text)).toThrow(why);
  });

  it('refuses nesting deeper than its limit instead of overflowing the stack', () => {
    expect(() => parseXml(`${'<a>'.repeat(100)}${'</a>'.repeat(100)}`)).toThrow(/deeper than/);
  });

  it('refuses documents over its size limit', () => {
    expect(() => parseXml(`<a>${'x'.repeat(5 * 1024 * 1024)}</a>`)).toThrow(/larger than/);
  });

  it('escapes what it writes so that it reads back the same', () => {
    const s = `<a b="c"> & 'd'`;
    expect(parseXml(`<x v="${escapeXml(s)}">${escapeXml(s)}</x>`)).toMatchObject({ attrs: { v: s }, text: s });
  });
});
