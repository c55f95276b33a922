import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sha512Crypt, windowsHiddenPassword } from '../../../../src/core/storage/crypt';

describe('sha512Crypt', () => {
  // The test vectors of Drepper's specification ("Unix crypt using SHA-256 and SHA-512").
  it('matches the specification test vectors', () => {
    expect(sha512Crypt('Hello world!', 'saltstring')).toBe(
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    );
    expect(sha512Crypt('Hello world!', 'saltstringsaltst', 10000)).toBe(
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    );
    expect(sha512Crypt('we have a short salt string but not a short password', 'roundstoolow', 10)).toBe(
      // Too few rounds are raised to 1000 (the value is glibc crypt(3)'s).
      '$6$rounds=1000$roundstoolow$yjTuW7RnC.d35QcVTFIb6uvh/7IQ1.GFtFN3i/.jwmeWEhzjf4uD/OPCb4jRl6atJGYhLst8IyR6YAtTrriMU1',
    );
  });

  it('agrees with OpenSSL for passwords with multi-byte characters and random salts', () => {
    for (const pw of ['correct horse', 'pässwörd ✓', 'x'.repeat(200)]) {
      const h = sha512Crypt(pw);
      const salt = h.split('$')[2]!;
      const ref = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: pw }).toString().trim();
      expect(h).toBe(ref);
    }
  });

  it('gives a new salt every time and refuses a bad one', () => {
    expect(sha512Crypt('a')).not.toBe(sha512Crypt('a'));
    expect(() => sha512Crypt('a', 'bad salt')).toThrow(/salt/);
  });
});

describe('windowsHiddenPassword', () => {
  it('is base64 of UTF-16LE password + "Password", as Windows SIM writes it', () => {
    expect(windowsHiddenPassword('P@ss')).toBe(Buffer.from('P@ssPassword', 'utf16le').toString('base64'));
    expect(Buffer.from(windowsHiddenPassword('abc'), 'base64').toString('utf16le')).toBe('abcPassword');
  });
});
