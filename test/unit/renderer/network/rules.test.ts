/** Port-forwarding rules as the table edits them: drafts, the checks per cell, and what is sent to the core. */
import { describe, expect, it } from 'vitest';
import {
  arrange,
  draftOf,
  hasProblems,
  isSshRule,
  newDraft,
  nextRuleName,
  ruleProblems,
  ruleSummary,
  sameDraft,
  specOf,
  sshCommand,
  type PortForward,
  type RuleDraft,
} from '../../../../src/renderer/src/network/rules';

const rule = (over: Partial<PortForward> = {}): PortForward => ({ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: '', guestPort: 22, ...over });
const draft = (over: Partial<RuleDraft> = {}): RuleDraft => ({ name: 'web', protocol: 'tcp', hostAddress: '', hostPort: '8080', guestAddress: '', guestPort: '80', ...over });

describe('names of new rules', () => {
  it('takes the first free "Rule N" from the count on, case-insensitively', () => {
    expect(nextRuleName([])).toBe('Rule 1');
    expect(nextRuleName(['ssh'])).toBe('Rule 2');
    expect(nextRuleName(['ssh', 'rule 3'])).toBe('Rule 4');
  });
  it('a new draft is an empty TCP row with that name', () => {
    expect(newDraft(['a'])).toEqual({ name: 'Rule 2', protocol: 'tcp', hostAddress: '', hostPort: '', guestAddress: '', guestPort: '' });
  });
});

describe('drafts', () => {
  it('round-trip a saved rule, and compare ignoring spaces around values', () => {
    const d = draftOf(rule());
    expect(d).toEqual({ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: '2222', guestAddress: '', guestPort: '22' });
    expect(sameDraft(d, { ...d, hostPort: ' 2222 ' })).toBe(true);
    expect(sameDraft(d, { ...d, protocol: 'udp' })).toBe(false);
    expect(sameDraft(d, { ...d, name: 'ssh ' })).toBe(false);
  });
});

describe('ruleProblems', () => {
  it('finds nothing wrong with a good row', () => {
    const p = ruleProblems(draft(), [rule()]);
    expect(p).toEqual({});
    expect(hasProblems(p)).toBe(false);
  });

  it('checks the name', () => {
    expect(ruleProblems(draft({ name: '' }), []).name).toMatch(/Enter a name/);
    expect(ruleProblems(draft({ name: 'x'.repeat(33) }), []).name).toMatch(/At most 32/);
    expect(ruleProblems(draft({ name: '-x' }), []).name).toMatch(/starting with a letter or digit/);
    expect(ruleProblems(draft({ name: 'a/b' }), []).name).toMatch(/Letters, digits/);
    expect(ruleProblems(draft({ name: 'ssh' }), [rule()]).name).toBe('Another rule has this name.');
  });

  it.each([
    ['empty', '', 'Enter a port.'],
    ['a word', 'http', 'Whole numbers only.'],
    ['negative', '-1', 'Whole numbers only.'],
    ['a fraction', '80.5', 'Whole numbers only.'],
    ['zero', '0', 'Use 1 to 65535.'],
    ['too high', '65536', 'Use 1 to 65535.'],
  ])('refuses a port that is %s, on both sides', (_what, port, msg) => {
    const p = ruleProblems(draft({ hostPort: port, guestPort: port }), []);
    expect(p.hostPort).toBe(msg);
    expect(p.guestPort).toBe(msg);
    expect(hasProblems(p)).toBe(true);
  });

  it('accepts the edges of the port range and spaces around it', () => {
    expect(ruleProblems(draft({ hostPort: ' 1 ', guestPort: '65535' }), [])).toEqual({});
  });

  it('refuses addresses that are not IPv4; empty means the default', () => {
    for (const a of ['localhost', '256.0.0.1', '1.2.3', '::1', '10.0.2.15/24']) {
      const p = ruleProblems(draft({ hostAddress: a, guestAddress: a }), []);
      expect(p.hostAddress, a).toBe('Not an IPv4 address.');
      expect(p.guestAddress, a).toBe('Not an IPv4 address.');
    }
    expect(ruleProblems(draft({ hostAddress: '0.0.0.0', guestAddress: '10.0.2.15' }), [])).toEqual({});
  });

  it('finds a host port clash on the same protocol and address, naming the other rule', () => {
    expect(ruleProblems(draft({ hostPort: '2222' }), [rule()]).hostPort).toBe("Already used by 'ssh'.");
    // The default address is 127.0.0.1, the rule's own.
    expect(ruleProblems(draft({ hostAddress: '127.0.0.1', hostPort: '2222' }), [rule()]).hostPort).toMatch(/ssh/);
    // 0.0.0.0 on either side covers every address.
    expect(ruleProblems(draft({ hostAddress: '0.0.0.0', hostPort: '2222' }), [rule()]).hostPort).toMatch(/ssh/);
    expect(ruleProblems(draft({ hostAddress: '192.168.1.5', hostPort: '2222' }), [rule({ hostAddress: '0.0.0.0' })]).hostPort).toMatch(/ssh/);
  });

  it('sees no clash on another protocol or another address', () => {
    expect(ruleProblems(draft({ hostPort: '2222', protocol: 'udp' }), [rule()])).toEqual({});
    expect(ruleProblems(draft({ hostAddress: '192.168.1.5', hostPort: '2222' }), [rule()])).toEqual({});
  });
});

describe('what is sent to the core', () => {
  it('trims values, turns ports into numbers and leaves an empty host address to the core', () => {
    expect(specOf(draft({ hostPort: ' 8080 ', guestAddress: ' 10.0.2.15 ' }))).toEqual({ name: 'web', protocol: 'tcp', hostPort: 8080, guestAddress: '10.0.2.15', guestPort: 80 });
    expect(specOf(draft({ hostAddress: ' 0.0.0.0 ' }))).toMatchObject({ hostAddress: '0.0.0.0' });
  });
});

describe('SSH rules', () => {
  it('are TCP rules to guest port 22', () => {
    expect(isSshRule(rule())).toBe(true);
    expect(isSshRule(rule({ protocol: 'udp' }))).toBe(false);
    expect(isSshRule(rule({ guestPort: 2222 }))).toBe(false);
  });
  it('are reached on loopback when bound to every address', () => {
    expect(sshCommand(rule())).toBe('ssh -p 2222 user@127.0.0.1');
    expect(sshCommand(rule({ hostAddress: '0.0.0.0' }), 'me')).toBe('ssh -p 2222 me@127.0.0.1');
    expect(sshCommand(rule({ hostAddress: '192.168.1.5' }))).toBe('ssh -p 2222 user@192.168.1.5');
  });
});

describe('arrange and summaries', () => {
  it('keeps the order the user saw; unknown rules follow in the core order', () => {
    const rs = [rule({ name: 'b' }), rule({ name: 'new1' }), rule({ name: 'a' }), rule({ name: 'new2' })];
    expect(arrange(rs, ['a', 'b']).map((r) => r.name)).toEqual(['a', 'b', 'new1', 'new2']);
    expect(arrange(rs, []).map((r) => r.name)).toEqual(['b', 'new1', 'a', 'new2']);
  });
  it('summarises a rule on one line', () => {
    expect(ruleSummary(rule())).toBe('TCP 127.0.0.1:2222 → guest:22');
    expect(ruleSummary(rule({ protocol: 'udp', guestAddress: '10.0.2.15', guestPort: 53 }))).toBe('UDP 127.0.0.1:2222 → 10.0.2.15:53');
  });
});
