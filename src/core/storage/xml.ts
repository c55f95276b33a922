/**
 * A small, strict XML reader for OVF descriptors and libvirt's domain/pool/volume XML. It has no DTD support at all: a document
 * with a DOCTYPE (and so any entity declaration, internal or external) is refused, and only
 * the five predefined entities and character references are expanded. Nothing is fetched,
 * nothing expands exponentially, and depth and size are bounded.
 */
import { NestboxError, type ErrorCode } from '../api/errors';

export interface XmlElement {
  /** The qualified name as written, e.g. "ovf:Disk". */
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text (children's text excluded), entities expanded. */
  readonly text: string;
}

export const XML_MAX_BYTES = 4 * 1024 * 1024;
const MAX_DEPTH = 64;

/** Who is reading: the error code and what the document is, for the message. */
export interface XmlContext {
  readonly code: ErrorCode;
  readonly what: string;
}

const OVF_CONTEXT: XmlContext = { code: 'IMAGE_REJECTED', what: 'the OVF descriptor' };
let context: XmlContext = OVF_CONTEXT;

const fail = (msg: string): never => {
  throw new NestboxError(context.code, `${context.what} is not acceptable XML: ${msg}`);
};

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;

function decode(s: string): string {
  return s.replace(/&([^;]{0,10});?/g, (m, ent: string) => {
    if (!m.endsWith(';')) return fail(`a bare '&' in "${s.slice(0, 40)}"`);
    switch (ent) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default: {
        const code = /^#x([0-9a-fA-F]{1,6})$/.exec(ent)?.[1] ?? /^#([0-9]{1,7})$/.exec(ent)?.[1];
        if (code === undefined) return fail(`the entity '&${ent};' is not one XML predefines (DTDs are not supported)`);
        const n = ent.startsWith('#x') ? parseInt(code, 16) : parseInt(code, 10);
        if (n === 0 || n > 0x10ffff) return fail(`the character reference '&${ent};' is not valid`);
        return String.fromCodePoint(n);
      }
    }
  });
}

export function parseXml(input: string, ctx: XmlContext = OVF_CONTEXT): XmlElement {
  // Parsing is synchronous, so the module-level context cannot leak between two parses.
  const saved = context;
  context = ctx;
  try {
    return parseXmlIn(input);
  } finally {
    context = saved;
  }
}

function parseXmlIn(input: string): XmlElement {
  if (input.length > XML_MAX_BYTES) fail(`it is larger than ${XML_MAX_BYTES} bytes`);
  let i = input.charCodeAt(0) === 0xfeff ? 1 : 0;
  const s = input;
  const stack: { name: string; attrs: Record<string, string>; children: XmlElement[]; text: string }[] = [];
  let root: XmlElement | null = null;

  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(s);
    if (!m) return fail(`a name was expected at offset ${i}`);
    i += m[0].length;
    return m[0];
  };
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const skipUntil = (end: string, what: string) => {
    const j = s.indexOf(end, i);
    if (j < 0) fail(`an unterminated ${what}`);
    i = j + end.length;
  };

  while (i < s.length) {
    if (s[i] !== '<') {
      const j = s.indexOf('<', i);
      const raw = s.slice(i, j < 0 ? s.length : j);
      if (stack.length) stack[stack.length - 1]!.text += decode(raw);
      else if (raw.trim() !== '') fail('text outside the root element');
      i = j < 0 ? s.length : j;
      continue;
    }
    if (s.startsWith('<?', i)) {
      skipUntil('?>', 'processing instruction');
      continue;
    }
    if (s.startsWith('<!--', i)) {
      skipUntil('-->', 'comment');
      continue;
    }
    if (s.startsWith('<![CDATA[', i)) {
      const j = s.indexOf(']]>', i);
      if (j < 0) fail('an unterminated CDATA section');
      if (!stack.length) fail('CDATA outside the root element');
      stack[stack.length - 1]!.text += s.slice(i + 9, j);
      i = j + 3;
      continue;
    }
    if (s.startsWith('<!', i)) fail('it has a DOCTYPE or other declaration; DTDs and entities are not accepted');
    if (s.startsWith('</', i)) {
      i += 2;
      const n = name();
      ws();
      if (s[i] !== '>') fail(`'>' expected after </${n}`);
      i++;
      const top = stack.pop();
      if (!top || top.name !== n) fail(`</${n}> does not close <${top?.name ?? 'nothing'}>`);
      const el: XmlElement = { name: top!.name, attrs: top!.attrs, children: top!.children, text: top!.text };
      if (stack.length) stack[stack.length - 1]!.children.push(el);
      else root = el;
      continue;
    }
    i++;
    if (root) fail('more than one root element');
    const n = name();
    const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
    for (;;) {
      ws();
      if (s.startsWith('/>', i) || s[i] === '>') break;
      const an = name();
      ws();
      if (s[i] !== '=') fail(`'=' expected after attribute ${an}`);
      i++;
      ws();
      const q = s[i];
      if (q !== '"' && q !== "'") fail(`attribute ${an} must be quoted`);
      const end = s.indexOf(q!, i + 1);
      if (end < 0) fail(`attribute ${an} is not terminated`);
      const raw = s.slice(i + 1, end);
      if (raw.includes('<')) fail(`attribute ${an} contains '<'`);
      if (an in attrs) fail(`attribute ${an} appears twice`);
      attrs[an] = decode(raw);
      i = end + 1;
    }
    if (s.startsWith('/>', i)) {
      i += 2;
      const el: XmlElement = { name: n, attrs, children: [], text: '' };
      if (stack.length) stack[stack.length - 1]!.children.push(el);
      else root = el;
    } else {
      i++;
      if (stack.length >= MAX_DEPTH) fail(`elements nest deeper than ${MAX_DEPTH}`);
      stack.push({ name: n, attrs, children: [], text: '' });
    }
  }
  if (stack.length) fail(`<${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) fail('there is no root element');
  return root!;
}

/** The name without its namespace prefix. */
export const localName = (n: string): string => n.slice(n.indexOf(':') + 1);

export function child(el: XmlElement, local: string): XmlElement | undefined {
  return el.children.find((c) => localName(c.name) === local);
}

export function childrenOf(el: XmlElement, local: string): XmlElement[] {
  return el.children.filter((c) => localName(c.name) === local);
}

/** An attribute by local name (ovf:href, href, ...). */
export function attr(el: XmlElement, local: string): string | undefined {
  for (const [k, v] of Object.entries(el.attrs)) if (localName(k) === local) return v;
  return undefined;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
