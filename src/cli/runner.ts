/**
 * Runs one command line against the command table: finds the command from its words, parses
 * its own options strictly with node:util's parseArgs, hands the handler its positional
 * arguments by their spec, and generates every help text from the table.
 * Exit status: the handler's (0 when it returns nothing), 1 for a failed operation, 2 for a
 * usage error.
 */
import path from 'node:path';
// node:util's parseArgs is a getter of the module: the CLI's build takes only plain properties
// as named imports of a built-in (scripts/build-node.mjs), so it is read from the module.
import util from 'node:util';
import { NestboxError } from '../core/api/errors';
import type { RpcClient } from '../core/api/rpc';
import { type AnyCommand, type ArgSpec, type CommandContext, type CommandGroup, type OptionSpec, type OptionSpecs, UsageError } from './command';

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  home: { type: 'string', value: 'DIR', help: 'data directory (default: $NESTBOX_HOME or the platform\'s app-data folder)' },
  help: { type: 'boolean', short: 'h', help: 'this help' },
};

export interface CoreLink {
  readonly client: RpcClient;
  close(): Promise<void>;
}

export interface RunnerIo {
  out(s: string): void;
  err(s: string): void;
  /** Connects to the data directory's core. */
  connect(home: string): Promise<CoreLink>;
  /** The data directory when --home is not given. */
  defaultHome(): string;
}

const words = (c: AnyCommand) => c.name.split(' ');
const firstWords = (c: AnyCommand) => [words(c)[0]!, ...(c.aliases ?? [])];

function argText(a: ArgSpec): string {
  switch (a.kind) {
    case 'required':
      return a.name;
    case 'optional':
      return `[${a.name}]`;
    case 'variadic':
      return `[${a.name}...]`;
  }
}

function optionText(name: string, o: OptionSpec): string {
  return o.type === 'string' ? `--${name} ${o.value}${o.multiple ? '...' : ''}` : `--${name}`;
}

/** `snapshot NAME take SNAP [--description TEXT]`. */
export function usageLine(c: AnyCommand): string {
  const [first, ...actions] = words(c);
  const lead = c.lead ?? 0;
  const parts = [first!, ...c.args.slice(0, lead).map(argText), ...actions, ...c.args.slice(lead).map(argText)];
  for (const [name, o] of Object.entries(c.options)) parts.push(`[${optionText(name, o)}]`);
  return parts.join(' ');
}

const COLUMN = 40;

/** Pads to a column, leaving at least two spaces. */
const padded = (s: string, width: number) => (s.length + 2 <= width ? s.padEnd(width) : `${s}  `);

function listLine(c: AnyCommand): string {
  const u = usageLine(c);
  return u.length + 2 < COLUMN ? `  ${u.padEnd(COLUMN - 2)}${c.summary}` : `  ${u}\n${' '.repeat(COLUMN)}${c.summary}`;
}

/** `nestbox --help`: every command, by group. */
export function fullHelp(groups: readonly CommandGroup[]): string {
  const lines = ['Usage: nestbox <command> [options]', ''];
  for (const g of groups) {
    lines.push(`${g.title}:`);
    for (const c of g.commands) lines.push(listLine(c));
    lines.push('');
  }
  lines.push('Global options:');
  for (const [name, o] of Object.entries(GLOBAL_OPTIONS)) lines.push(`  ${padded(`${o.short ? `-${o.short}, ` : ''}${optionText(name, o)}`, COLUMN - 2)}${o.help}`);
  lines.push('');
  lines.push(`nestbox help GROUP shows a group's commands with their options (groups: ${groups.map((g) => g.name).join(', ')}).`);
  lines.push('`nestbox disk ...` is the same as `nestbox media ...`. VMs are named by name or UUID.');
  return lines.join('\n');
}

function commandBlock(c: AnyCommand): string {
  const lines = [`nestbox ${usageLine(c)}`, `    ${c.summary}`];
  if (c.details) lines.push(...c.details.split('\n').map((l) => `    ${l}`));
  const opts = Object.entries(c.options);
  if (opts.length) {
    for (const [name, o] of opts) lines.push(`      ${padded(`${o.short ? `-${o.short}, ` : ''}${optionText(name, o)}`, COLUMN - 6)}${o.help}`);
  }
  if (c.aliases?.length) lines.push(`    (also: ${c.aliases.map((a) => [a, ...words(c).slice(1)].join(' ')).join(', ')})`);
  return lines.join('\n');
}

/** `nestbox help GROUP` (a group's name, or a command's first word). */
export function groupHelp(groups: readonly CommandGroup[], name: string): string | null {
  const g = groups.find((x) => x.name === name);
  const commands = g ? g.commands : groups.flatMap((x) => x.commands).filter((c) => firstWords(c).includes(name));
  if (commands.length === 0) return null;
  return [`${g ? g.title : name}:`, '', ...commands.map(commandBlock)].join('\n\n').replace(/:\n\n\n\n/, ':\n\n');
}

/** `nestbox CMD --help`. */
export function commandHelp(c: AnyCommand): string {
  return `Usage: ${commandBlock(c)}\n\nGlobal options: --home DIR, -h/--help`;
}

interface Match {
  readonly command: AnyCommand;
  /** The positionals that are arguments (the words removed). */
  readonly values: readonly string[];
}

/** The command the positionals name, or why none does. */
function match(groups: readonly CommandGroup[], positionals: readonly string[]): Match | UsageError {
  const first = positionals[0]!;
  const candidates = groups.flatMap((g) => g.commands).filter((c) => firstWords(c).includes(first));
  if (candidates.length === 0) return new UsageError(`unknown command '${first}' (see nestbox --help)`);
  let best: AnyCommand | null = null;
  for (const c of candidates) {
    const lead = c.lead ?? 0;
    const actions = words(c).slice(1);
    if (!actions.every((w, i) => positionals[1 + lead + i] === w)) continue;
    if (!best || words(best).length < actions.length + 1) best = c;
  }
  if (!best) {
    const lead = Math.min(...candidates.map((c) => c.lead ?? 0));
    const given = positionals[1 + lead];
    const actions = [...new Set(candidates.map((c) => words(c)[1]).filter((w): w is string => w !== undefined))];
    const usage = candidates.map((c) => `  nestbox ${usageLine(c)}`).join('\n');
    if (given === undefined) return new UsageError(`missing arguments; usage:\n${usage}`);
    return new UsageError(`unknown ${first} action '${given}' (${actions.join(', ')}); usage:\n${usage}`);
  }
  const lead = best.lead ?? 0;
  const nActions = words(best).length - 1;
  return { command: best, values: [...positionals.slice(1, 1 + lead), ...positionals.slice(1 + lead + nActions)] };
}

/** Hands out positionals by the spec: required first, then optional left to right, then the rest. */
export function bindArgs(specs: readonly ArgSpec[], values: readonly string[]): (string | undefined | readonly string[])[] | UsageError {
  const required = specs.filter((a) => a.kind === 'required').length;
  if (values.length < required) {
    const missing = specs.filter((a) => a.kind === 'required').slice(values.length);
    return new UsageError(`missing ${missing.map((a) => a.name).join(' ')}`, true);
  }
  let extra = values.length - required;
  let i = 0;
  const out: (string | undefined | readonly string[])[] = [];
  for (const a of specs) {
    switch (a.kind) {
      case 'required':
        out.push(values[i++]!);
        break;
      case 'optional':
        if (extra > 0) {
          out.push(values[i++]!);
          extra--;
        } else out.push(undefined);
        break;
      case 'variadic':
        out.push(values.slice(i, i + extra));
        i += extra;
        extra = 0;
        break;
    }
  }
  if (i < values.length) return new UsageError(`unexpected argument '${values[i]!}'`, true);
  return out;
}

type ParseOptions = NonNullable<Parameters<typeof util.parseArgs>[0]>['options'];

function parseConfig(specs: OptionSpecs): ParseOptions {
  const o: NonNullable<ParseOptions> = {};
  for (const [name, s] of Object.entries(specs)) {
    const multiple = s.type === 'string' && s.multiple === true;
    o[name] = { type: s.type, ...(s.short ? { short: s.short } : {}), ...(multiple ? { multiple } : {}) };
  }
  return o;
}

/** The first word: the first token that is neither an option nor an option's value. */
function positionalsLoosely(argv: readonly string[], known: OptionSpecs): string[] {
  // Without an option token every word is positional, as parseArgs would say; skipping it there
  // (`nestbox list`, `nestbox info NAME`) saves configuring it with every command's options.
  if (!argv.some((a) => a.startsWith('-'))) return [...argv];
  const { positionals } = util.parseArgs({ args: [...argv], options: parseConfig(known), strict: false, allowPositionals: true });
  return positionals;
}

function usageMessage(err: unknown): string {
  const m = (err as Error).message;
  const unknown = /^Unknown option '([^']+)'/.exec(m);
  if (unknown) return `unknown option '${unknown[1]!}'`;
  return m.split('. ')[0]!.replace(/^./, (ch) => ch.toLowerCase());
}

/** Runs argv; returns the exit status. */
export async function runCommandLine(groups: readonly CommandGroup[], argv: readonly string[], io: RunnerIo): Promise<number> {
  const all = groups.flatMap((g) => g.commands);
  const everyOption: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS };
  for (const c of all) Object.assign(everyOption, c.options);
  const usageError = (e: UsageError, c?: AnyCommand): number => {
    io.err(`nestbox: ${e.message}`);
    if (e.showUsage && c) io.err(`usage: nestbox ${usageLine(c)}`);
    return 2;
  };
  let command: AnyCommand | undefined;
  try {
    const loose = positionalsLoosely(argv, everyOption);
    const wantsHelp = argv.includes('--help') || argv.includes('-h');
    if (loose.length === 0) {
      io.out(fullHelp(groups));
      return wantsHelp ? 0 : 2;
    }
    if (loose[0] === 'help') {
      if (loose.length === 1) {
        io.out(fullHelp(groups));
        return 0;
      }
      const text = groupHelp(groups, loose[1]!);
      if (text === null) return usageError(new UsageError(`no help for '${loose[1]!}' (groups: ${groups.map((g) => g.name).join(', ')})`));
      io.out(text);
      return 0;
    }
    const found = match(groups, loose);
    if (found instanceof UsageError) {
      if (wantsHelp && groupHelp(groups, loose[0]!)) {
        io.out(groupHelp(groups, loose[0]!)!);
        return 0;
      }
      return usageError(found);
    }
    command = found.command;
    if (wantsHelp) {
      io.out(commandHelp(command));
      return 0;
    }
    let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
    try {
      parsed = util.parseArgs({ args: [...argv], options: parseConfig({ ...GLOBAL_OPTIONS, ...command.options }), strict: true, allowPositionals: true }) as typeof parsed;
    } catch (err) {
      return usageError(new UsageError(usageMessage(err), true), command);
    }
    // With the command's own options known, the words must still name the same command.
    const again = match(groups, parsed.positionals);
    if (again instanceof UsageError || again.command !== command) return usageError(again instanceof UsageError ? again : new UsageError('the options are in the way of the command words', true), command);
    const args = bindArgs(command.args, again.values);
    if (args instanceof UsageError) return usageError(args, command);
    const { home: homeOpt, help: _help, ...opts } = parsed.values;
    const home = typeof homeOpt === 'string' ? path.resolve(homeOpt) : io.defaultHome();
    let link: CoreLink | null = null;
    const ctx: CommandContext = {
      home,
      client: async () => {
        link ??= await io.connect(home);
        return link.client;
      },
    };
    try {
      const code = await command.handler(ctx, args, opts);
      return code ?? 0;
    } finally {
      await (link as CoreLink | null)?.close();
    }
  } catch (err) {
    if (err instanceof UsageError) return usageError(err, command);
    const e = NestboxError.from(err);
    io.err(`nestbox: ${e.message}`);
    if (process.env['NESTBOX_DEBUG'] && e.detail) io.err(e.detail);
    return 1;
  }
}
