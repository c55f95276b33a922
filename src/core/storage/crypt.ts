/**
 * Password forms for unattended installs. The password itself is never written anywhere:
 * Linux seeds get SHA-512 crypt (glibc's `$6$`, what Debian's installer, Subiquity and
 * cloud-init put into /etc/shadow), Windows gets the hidden form its answer files define.
 * Node has no crypt(3), so SHA-512 crypt is implemented here from Ulrich Drepper's
 * specification ("Unix crypt using SHA-256 and SHA-512"), checked against its test vectors.
 */
import crypto from 'node:crypto';

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DEFAULT_ROUNDS = 5000;

function sha512(...parts: Buffer[]): Buffer {
  const h = crypto.createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `len` bytes of `block` repeated. */
function stretch(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length) block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

/** The order in which the spec encodes the 64 digest bytes, three at a time. */
const ORDER: readonly (readonly [number, number, number])[] = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

function b64(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let s = '';
  for (let i = 0; i < n; i++) {
    s += ALPHABET[w & 0x3f];
    w >>>= 6;
  }
  return s;
}

/** SHA-512 crypt of `password` with `salt` (at most 16 characters of [./0-9A-Za-z]; a random one when absent). */
export function sha512Crypt(password: string, salt?: string, rounds?: number): string {
  const s = salt ?? randomSalt();
  if (!/^[./0-9A-Za-z]{1,16}$/.test(s)) throw new Error('a crypt salt has 1 to 16 characters of [./0-9A-Za-z]');
  const r = rounds === undefined ? DEFAULT_ROUNDS : Math.min(999_999_999, Math.max(1000, rounds));
  const P = Buffer.from(password, 'utf8');
  const S = Buffer.from(s, 'ascii');
  const B = sha512(P, S, P);
  const a = crypto.createHash('sha512');
  a.update(P);
  a.update(S);
  a.update(stretch(B, P.length));
  for (let n = P.length; n > 0; n >>= 1) a.update(n & 1 ? B : P);
  const A = a.digest();
  const DP = sha512(...Array.from({ length: P.length }, () => P));
  const Pp = stretch(DP, P.length);
  const DS = sha512(...Array.from({ length: 16 + A[0]! }, () => S));
  const Sp = stretch(DS, S.length);
  let C = A;
  for (let i = 0; i < r; i++) {
    const h = crypto.createHash('sha512');
    h.update(i & 1 ? Pp : C);
    if (i % 3) h.update(Sp);
    if (i % 7) h.update(Pp);
    h.update(i & 1 ? C : Pp);
    C = h.digest();
  }
  const enc = ORDER.map(([x, y, z]) => b64(C[x]!, C[y]!, C[z]!, 4)).join('') + b64(0, 0, C[63]!, 2);
  return `$6$${rounds === undefined ? '' : `rounds=${r}$`}${s}$${enc}`;
}

function randomSalt(): string {
  return [...crypto.randomBytes(16)].map((b) => ALPHABET[b & 0x3f]).join('');
}

/**
 * The `<Password><Value>` of a Windows answer file with `<PlainText>false</PlainText>`: base64
 * of UTF-16LE(password + "Password"), as Windows System Image Manager writes it. Windows
 * Setup replaces such values with "*SENSITIVE*DATA*DELETED*" in the copy it keeps under
 * C:\Windows\Panther.
 */
export function windowsHiddenPassword(password: string, element = 'Password'): string {
  return Buffer.from(password + element, 'utf16le').toString('base64');
}
