/**
 * `cap`: the cap-edge command line. `deno task cap <subcommand> …`
 * @module
 */
import { runCommand } from "./run.ts";
import { verifyCommand } from "./verify.ts";
import { UsageError } from "./_usage_error.ts";

type Command = (
  args: string[],
  options: { signal: AbortSignal },
) => Promise<number>;

const COMMANDS: Record<
  string,
  { summary: string; load: () => Promise<Command> }
> = {
  verify: {
    summary:
      "check a program or a signed envelope (exit 0 accepted, 1 refused)",
    load: () => Promise.resolve(verifyCommand),
  },
  run: {
    summary:
      "run a program locally against the simulator and print its evidence",
    load: () => Promise.resolve(runCommand),
  },
};

/** Registers a subcommand (used by the optional modules below). */
export function _register(
  name: string,
  summary: string,
  load: () => Promise<Command>,
): void {
  COMMANDS[name] = { summary, load };
}

const HELP = () =>
  `cap — the cap-edge command line

Usage: deno task cap <command> [options]

Commands:
${
    Object.entries(COMMANDS).map(([name, c]) =>
      `  ${name.padEnd(8)} ${c.summary}`
    ).join("\n")
  }

Run "deno task cap <command> --help" for a command's options.`;

/** Runs the CLI with `args`; resolves with the exit code. */
export async function main(
  args: string[],
  signal: AbortSignal,
): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    // Bad usage: the help goes to stderr, stdout stays empty.
    console.error(`cap: no command given\n\n${HELP()}`);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(HELP());
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    console.error(`cap: unknown command "${name}"\n\n${HELP()}`);
    return 2;
  }
  try {
    return await (await command.load())(rest, { signal });
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`cap ${name}: ${error.message}`);
      return 2;
    }
    // The robot's refusal was printed where it happened.
    if (error instanceof Error && error.name === "RemoteFailed") return 1;
    throw error;
  }
}

/** Runs the CLI on `Deno.args` and exits with its code. */
async function _cli(): Promise<never> {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onSignal);
  let code: number;
  try {
    await import("./_commands.ts");
    code = await main(Deno.args, controller.signal);
  } catch (error) {
    console.error(
      `cap: ${error instanceof Error ? error.message : String(error)}`,
    );
    code = 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  Deno.exit(code);
}

if (import.meta.main) {
  // Not a top-level await: `_commands.ts` imports this module, which must
  // finish evaluating first, or the import cycle never resolves.
  _cli();
}
