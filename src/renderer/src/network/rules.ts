/**
 * Port forwarding rules as the table edits them: every cell is text until it is committed,
 * so a half-typed port is never coerced into a number. The checks copy the core's rule
 * (src/core/domain/config.ts) so the user hears about a bad value on the row, before any
 * call; the core stays the authority and checks again (ports in use, other VMs' rules).
 */
import type { PortForwardSpec, VmConfig } from '../../../core/api/contract';

export type Nic = VmConfig['nics'][number];
export type PortForward = Nic['forwards'][number];
export type Protocol = PortForward['protocol'];

export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp'];
export const DEFAULT_HOST_ADDRESS = '127.0.0.1';
export const MAX_RULE_NAME = 32;

export interface RuleDraft {
  readonly name: string;
  readonly protocol: Protocol;
  readonly hostAddress: string;
  readonly hostPort: string;
  readonly guestAddress: string;
  readonly guestPort: string;
}

export type RuleField = keyof RuleDraft;
export type RuleProblems = Partial<Readonly<Record<RuleField, string>>>;

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const RULE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/;

export function draftOf(rule: PortForward): RuleDraft {
  return {
    name: rule.name,
    protocol: rule.protocol,
    hostAddress: rule.hostAddress,
    hostPort: String(rule.hostPort),
    guestAddress: rule.guestAddress,
    guestPort: String(rule.guestPort),
  };
}

export function sameDraft(a: RuleDraft, b: RuleDraft): boolean {
  return (
    a.name === b.name &&
    a.protocol === b.protocol &&
    a.hostAddress.trim() === b.hostAddress.trim() &&
    a.hostPort.trim() === b.hostPort.trim() &&
    a.guestAddress.trim() === b.guestAddress.trim() &&
    a.guestPort.trim() === b.guestPort.trim()
  );
}

/** "Rule N" with the first N that no rule (saved or still being typed) uses. */
export function nextRuleName(taken: readonly string[]): string {
  const lower = new Set(taken.map((t) => t.toLowerCase()));
  for (let n = taken.length + 1; ; n++) {
    const name = `Rule ${n}`;
    if (!lower.has(name.toLowerCase())) return name;
  }
}

export function newDraft(taken: readonly string[]): RuleDraft {
  return { name: nextRuleName(taken), protocol: 'tcp', hostAddress: '', hostPort: '', guestAddress: '', guestPort: '' };
}

function portProblem(text: string): string | null {
  const t = text.trim();
  if (t === '') return 'Enter a port.';
  if (!/^\d+$/.test(t)) return 'Whole numbers only.';
  const n = Number(t);
  if (n < 1 || n > 65535) return 'Use 1 to 65535.';
  return null;
}

function addressProblem(text: string): string | null {
  const t = text.trim();
  if (t === '' || IPV4_RE.test(t)) return null;
  return 'Not an IPv4 address.';
}

/**
 * What is wrong with each cell of a row. `others` are the adapter's saved rules except the
 * one this row edits, so a rule may keep its own name and port.
 */
export function ruleProblems(d: RuleDraft, others: readonly PortForward[]): RuleProblems {
  const name = d.name;
  let nameProblem: string | null = null;
  if (name.trim() === '') nameProblem = 'Enter a name.';
  else if (name.length > MAX_RULE_NAME) nameProblem = `At most ${MAX_RULE_NAME} characters.`;
  else if (!RULE_NAME_RE.test(name)) nameProblem = 'Letters, digits, spaces and . _ - (starting with a letter or digit).';
  else if (others.some((o) => o.name === name)) nameProblem = 'Another rule has this name.';

  const hostAddress = addressProblem(d.hostAddress);
  let hostPort = portProblem(d.hostPort);
  if (hostPort === null && hostAddress === null) {
    const bind = d.hostAddress.trim() || DEFAULT_HOST_ADDRESS;
    const port = Number(d.hostPort.trim());
    const clash = others.find(
      (o) => o.protocol === d.protocol && o.hostPort === port && (o.hostAddress === bind || o.hostAddress === '0.0.0.0' || bind === '0.0.0.0'),
    );
    if (clash) hostPort = `Already used by '${clash.name}'.`;
  }
  const out: Partial<Record<RuleField, string>> = {};
  if (nameProblem !== null) out.name = nameProblem;
  if (hostAddress !== null) out.hostAddress = hostAddress;
  if (hostPort !== null) out.hostPort = hostPort;
  const guestAddress = addressProblem(d.guestAddress);
  if (guestAddress !== null) out.guestAddress = guestAddress;
  const guestPort = portProblem(d.guestPort);
  if (guestPort !== null) out.guestPort = guestPort;
  return out;
}

export function hasProblems(p: RuleProblems): boolean {
  return Object.keys(p).length > 0;
}

/** The call's rule; an empty host address is left to the core's default (127.0.0.1). */
export function specOf(d: RuleDraft): PortForwardSpec {
  const hostAddress = d.hostAddress.trim();
  return {
    name: d.name,
    protocol: d.protocol,
    ...(hostAddress !== '' ? { hostAddress } : {}),
    hostPort: Number(d.hostPort.trim()),
    guestAddress: d.guestAddress.trim(),
    guestPort: Number(d.guestPort.trim()),
  };
}

export function specOfRule(r: PortForward): PortForwardSpec {
  return { ...r };
}

export function isSshRule(r: PortForward): boolean {
  return r.protocol === 'tcp' && r.guestPort === 22;
}

/**
 * The command that reaches the guest's SSH server through the rule. A rule bound to every
 * address is reached on loopback. The guest's account is unknown here, hence `user`.
 */
export function sshCommand(r: PortForward, user = 'user'): string {
  const host = r.hostAddress === '0.0.0.0' || r.hostAddress === '' ? DEFAULT_HOST_ADDRESS : r.hostAddress;
  return `ssh -p ${r.hostPort} ${user}@${host}`;
}

/**
 * Rules in the order the user has been looking at them. Editing a rule removes and re-adds
 * it, so the core lists it last; `order` keeps it where it was. Unknown names (rules added
 * here or elsewhere) follow in the core's order.
 */
export function arrange(rules: readonly PortForward[], order: readonly string[]): readonly PortForward[] {
  const rank = new Map(order.map((n, i) => [n, i] as const));
  return rules
    .map((r, i) => ({ r, k: rank.get(r.name) ?? order.length + i }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.r);
}

/** One line for summaries: "TCP 127.0.0.1:8080 → guest:80". */
export function ruleSummary(r: PortForward): string {
  return `${r.protocol.toUpperCase()} ${r.hostAddress}:${r.hostPort} → ${r.guestAddress || 'guest'}:${r.guestPort}`;
}
