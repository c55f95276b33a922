/**
 * The shape of a CLI command. Every command of `nestbox` is one entry of the table in
 * `commands/index.ts`: its words, positional arguments, options and handler. The runner
 * (`runner.ts`) parses argv against the entry and generates the help from it, so the usage
 * a user reads is the usage the parser enforces.
 */
import type { RpcClient } from '../core/api/rpc';

/** A wrong command line: the runner prints the message (and usage) and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** Print the command's usage after the message. */
    readonly showUsage = false,
  ) {
    super(message);
  }
}

export type OptionSpec =
  | { readonly type: 'boolean'; readonly short?: string; readonly help: string }
  /** `value` names the value in the usage (`--memory MiB`). */
  | { readonly type: 'string'; readonly short?: string; readonly value: string; readonly help: string };

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]?: O[K] extends { readonly type: 'boolean' } ? boolean : string;
};

export type ArgKind = 'required' | 'optional' | 'variadic';

export interface ArgSpec {
  /** As shown in the usage: NAME, FILE.png, on|off. */
  readonly name: string;
  readonly kind: ArgKind;
}

export const req = (name: string) => ({ name, kind: 'required' }) as const;
export const opt = (name: string) => ({ name, kind: 'optional' }) as const;
export const many = (name: string) => ({ name, kind: 'variadic' }) as const;

/** The handler's view of its positional arguments, typed from the spec's tuple. */
export type ArgValues<A extends readonly ArgSpec[]> = {
  readonly [K in keyof A]: A[K] extends { readonly kind: 'required' } ? string : A[K] extends { readonly kind: 'optional' } ? string | undefined : readonly string[];
};

/** What a handler gets besides its arguments. */
export interface CommandContext {
  /** The data directory (--home, $NESTBOX_HOME or the platform's default). */
  readonly home: string;
  /** The data directory's core, started as a background daemon when none runs; closed by the runner. */
  client(): Promise<RpcClient>;
}

export interface Command<A extends readonly ArgSpec[] = readonly ArgSpec[], O extends OptionSpecs = OptionSpecs> {
  /**
   * The words a user types, e.g. 'snapshot take'. The first word names the command; the
   * others (actions) follow the first `lead` arguments: `snapshot NAME take SNAP`.
   */
  readonly name: string;
  /** Other first words for the same command (`disk` for `media`). */
  readonly aliases?: readonly string[];
  /** How many arguments come between the first word and the action words. */
  readonly lead?: number;
  readonly args: A;
  readonly options: O;
  /** One line for the command list. */
  readonly summary: string;
  /** More lines for `nestbox help GROUP` and `nestbox CMD --help`. */
  readonly details?: string;
  /** The return value is the exit status (0 when void). */
  readonly handler: (ctx: CommandContext, args: ArgValues<A>, opts: OptionValues<O>) => Promise<number | void>;
}

/** A command with its argument and option types erased, as the table holds it. */
export interface AnyCommand {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly lead?: number;
  readonly args: readonly ArgSpec[];
  readonly options: OptionSpecs;
  readonly summary: string;
  readonly details?: string;
  readonly handler: (ctx: CommandContext, args: readonly (string | undefined | readonly string[])[], opts: Readonly<Record<string, string | boolean | undefined>>) => Promise<number | void>;
}

/** Declares a command; the types of `args` and `opts` in its handler follow from its spec. */
export function command<const A extends readonly ArgSpec[], const O extends OptionSpecs>(c: Command<A, O>): AnyCommand {
  return c as unknown as AnyCommand;
}

export interface CommandGroup {
  /** `nestbox help NAME`. */
  readonly name: string;
  readonly title: string;
  readonly commands: readonly AnyCommand[];
}
