/**
 * Apple XML property lists (what UTM writes as a bundle's config.plist), read through the
 * project's strict XML reader. That reader refuses every DOCTYPE; a property list written by
 * Foundation always carries one line naming Apple's public plist DTD. Exactly that line is
 * accepted, because it has no internal subset: it declares no entity and no attribute
 * default, so removing it changes nothing the document says, and the DTD it names is never
 * fetched. Any other DOCTYPE (another public id, an internal subset with entities, a SYSTEM
 * id pointing at a file) is still refused by the reader. Pure: no I/O.
 */
import { NestboxError } from '../api/errors';
import { parseXml, type XmlContext, type XmlElement } from './xml';

export type PlistValue = string | number | boolean | readonly PlistValue[] | PlistDict;
export interface PlistDict {
  readonly [key: string]: PlistValue;
}

/** The one DOCTYPE Foundation's PropertyListEncoder/NSPropertyListSerialization write, byte for byte. */
export const APPLE_PLIST_DOCTYPE = '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">';

/** Dictionaries and arrays deeper than this are not a machine's settings. */
const MAX_ITEMS = 10_000;

/**
 * The text with Apple's DOCTYPE blanked out where the prolog allows it (after the XML
 * declaration and whitespace, before the root). Same length, so offsets in errors still hold.
 */
export function withoutAppleDoctype(text: string): string {
  const m = /^(\uFEFF?\s*(?:<\?xml[^>]*\?>)?\s*)/.exec(text);
  const at = m ? m[1]!.length : 0;
  if (!text.startsWith(APPLE_PLIST_DOCTYPE, at)) return text;
  return text.slice(0, at) + ' '.repeat(APPLE_PLIST_DOCTYPE.length) + text.slice(at + APPLE_PLIST_DOCTYPE.length);
}

export function parsePlist(text: string, ctx: XmlContext): PlistDict {
  const stripped = withoutAppleDoctype(text);
  if (/<!DOCTYPE/i.test(stripped)) {
    throw new NestboxError(ctx.code, `${ctx.what} has a DOCTYPE other than Apple's property list one (${APPLE_PLIST_DOCTYPE.slice(0, 56)}…); DTDs and entities are not accepted`);
  }
  const root = parseXml(stripped, ctx);
  const bad = (msg: string): never => {
    throw new NestboxError(ctx.code, `${ctx.what} is not an acceptable property list: ${msg}`);
  };
  if (root.name !== 'plist') bad(`its root element is <${root.name.slice(0, 30)}>, not <plist>`);
  const top = root.children;
  if (top.length !== 1 || top[0]!.name !== 'dict') bad('it does not hold one <dict>');
  let items = 0;
  const value = (el: XmlElement): PlistValue => {
    if (++items > MAX_ITEMS) bad(`it has more than ${MAX_ITEMS} values`);
    switch (el.name) {
      case 'string':
        return el.text;
      case 'integer': {
        const t = el.text.trim();
        if (!/^-?\d{1,15}$/.test(t)) return bad(`'${t.slice(0, 20)}' is not an integer it accepts`);
        return Number(t);
      }
      case 'real': {
        const n = Number(el.text.trim());
        return Number.isFinite(n) ? n : bad(`'${el.text.trim().slice(0, 20)}' is not a number`);
      }
      case 'true':
        return true;
      case 'false':
        return false;
      case 'date':
      case 'data':
        return el.text.trim();
      case 'array':
        return el.children.map(value);
      case 'dict': {
        const out: Record<string, PlistValue> = Object.create(null) as Record<string, PlistValue>;
        const c = el.children;
        if (c.length % 2 !== 0) bad('a <dict> has a key without a value');
        for (let i = 0; i < c.length; i += 2) {
          if (c[i]!.name !== 'key') bad(`a <dict> has <${c[i]!.name.slice(0, 20)}> where a <key> belongs`);
          const k = c[i]!.text;
          if (k in out) bad(`the key '${k.slice(0, 40)}' appears twice in one <dict>`);
          out[k] = value(c[i + 1]!);
        }
        return out;
      }
      default:
        return bad(`<${el.name.slice(0, 20)}> is not a property list value`);
    }
  };
  return value(top[0]!) as PlistDict;
}

/** A dictionary's entry of one type, or undefined when absent or of another type. */
export const pStr = (d: PlistDict | undefined, k: string): string | undefined => (d && typeof d[k] === 'string' ? (d[k] as string) : undefined);
export const pNum = (d: PlistDict | undefined, k: string): number | undefined => (d && typeof d[k] === 'number' ? (d[k] as number) : undefined);
export const pBool = (d: PlistDict | undefined, k: string): boolean | undefined => (d && typeof d[k] === 'boolean' ? (d[k] as boolean) : undefined);
export const pDict = (d: PlistDict | undefined, k: string): PlistDict | undefined => {
  const v = d?.[k];
  return v !== undefined && typeof v === 'object' && !Array.isArray(v) ? (v as PlistDict) : undefined;
};
export const pDicts = (d: PlistDict | undefined, k: string): readonly PlistDict[] => {
  const v = d?.[k];
  return Array.isArray(v) ? (v as readonly PlistValue[]).filter((x): x is PlistDict => typeof x === 'object' && !Array.isArray(x)) : [];
};
