/**
 * `nestbox`: the command line, a client of the core's API. It connects to the data
 * directory's core (desktop app, `nestbox serve`, or a `nestbox daemon`, which it starts in
 * the background when none runs). VMs keep running after it exits. Errors: one line on
 * stderr; exit 1 for a failed operation, 2 for a usage error.
 */
import { connectCore } from '../core/server/autostart';
import { defaultDataDir } from '../core/store/paths';
import { COMMAND_GROUPS } from './commands';
import { runCommandLine, type RunnerIo } from './runner';

const io: RunnerIo = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  defaultHome: defaultDataDir,
  connect: (home) =>
    connectCore({
      dataDir: home,
      daemonCommand: [process.execPath, ...process.execArgv, process.argv[1]!, 'daemon', '--background'],
      note: (line) => process.stderr.write(`${line}\n`),
    }),
};

export function main(argv: readonly string[]): Promise<number> {
  return runCommandLine(COMMAND_GROUPS, argv, io);
}

export function run(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`nestbox: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
