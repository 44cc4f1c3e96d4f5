/**
 * `cap`: the cap-edge command line. `deno task cap <command> …`
 *
 * Every command is one entry of {@linkcode COMMANDS}, loaded only when it
 * runs: `cap run` loads the executor and nothing of gRPC, MQTT or the LLM
 * client. To add a command, write `cli/<name>.ts` exporting
 * `<name>Command(args, { signal })` and add its line here.
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import { UsageError } from "./_usage_error.ts";
import { _suggest } from "./_suggest.ts";

/** A subcommand: resolves with its exit code. */
export type Command = (
  args: string[],
  options: { signal: AbortSignal },
) => Promise<number>;

/** One line of the command table. */
export interface CommandEntry {
  /** One line for `cap --help`. */
  summary: string;
  /** Loads the command's module (and only its dependencies). */
  load: () => Promise<Command>;
}

/** Every `cap` command, in the order `cap --help` lists them. */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  init: {
    summary: "make keys, a trust store and a local config, and say what next",
    load: async () => (await import("./init.ts")).initCommand,
  },
  verify: {
    summary:
      "check a program or a signed envelope (exit 0 accepted, 1 refused)",
    load: async () => (await import("./verify.ts")).verifyCommand,
  },
  run: {
    summary:
      "run a program locally against the simulator and show its evidence",
    load: async () => (await import("./run.ts")).runCommand,
  },
  keygen: {
    summary: "write an Ed25519 signing key and a trust store",
    load: async () => (await import("./sign.ts")).keygenCommand,
  },
  sign: {
    summary: "sign a program into a DSSE envelope",
    load: async () => (await import("./sign.ts")).signCommand,
  },
  send: {
    summary: "deliver a signed program to robots over gRPC (--run to run it)",
    load: async () => (await import("./send.ts")).sendCommand,
  },
  exec: {
    summary: "run a program cached on robots, showing the run as it happens",
    load: async () => (await import("./exec.ts")).execCommand,
  },
  stop: {
    summary: "emergency stop of one or more robots (all at once)",
    load: async () => (await import("./stop.ts")).stopCommand,
  },
  resume: {
    summary: "allow runs again after an emergency stop",
    load: async () => (await import("./resume.ts")).resumeCommand,
  },
  list: {
    summary: "list the programs cached on robots",
    load: async () => (await import("./list.ts")).listCommand,
  },
  runs: {
    summary:
      "list the run history kept on robots (filter by label, program, …)",
    load: async () => (await import("./runs.ts")).runsCommand,
  },
  evidence: {
    summary: "show one run's evidence record (--mcap: a file for Foxglove)",
    load: async () => (await import("./evidence.ts")).evidenceCommand,
  },
  world: {
    summary: "show robots' current world estimate",
    load: async () => (await import("./world.ts")).worldCommand,
  },
  synth: {
    summary:
      "write a program for an instruction with an LLM, verified and dry-run",
    load: async () => (await import("./synth.ts")).synthCommand,
  },
  eval: {
    summary: "run the tabletop evaluation suite through synthesis",
    load: async () => (await import("./eval.ts")).evalCommand,
  },
  fleet: {
    summary: "live view of every robot on an MQTT broker",
    load: async () => (await import("./fleet.ts")).fleetCommand,
  },
  replay: {
    summary:
      "re-run a recorded run from the fleet console against its recorded skill results",
    load: async () => (await import("./replay.ts")).replayCommand,
  },
};

/** `cap --version`: the project's version and the Deno it runs on. */
export const VERSION =
  `cap ${denoJson.version} (cap-edge, deno ${Deno.version.deno})`;

function _help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return `cap — the cap-edge command line

Usage: deno task cap <command> [options]

Commands:
${
    Object.entries(COMMANDS).map(([name, c]) =>
      `  ${name.padEnd(width)}  ${c.summary}`
    ).join("\n")
  }

Options:
  -h, --help     show this help ("cap <command> --help" for a command's)
  -V, --version  print the version

Exit: 0 success, 1 the command ran and failed (refused, not succeeded, a robot
unreachable), 2 bad usage. Environment: CAP_OPERATOR_KEY (operator key),
OPENAI_BASE_URL, OPENAI_API_KEY, CAP_MODEL (synth, eval), NO_COLOR.`;
}

/** Runs the CLI with `args`; resolves with the exit code. */
export async function main(
  args: string[],
  signal: AbortSignal,
): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    // Bad usage: the help goes to stderr, stdout stays empty.
    console.error(`cap: no command given\n\n${_help()}`);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(_help());
    return 0;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    console.log(VERSION);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    const guess = _suggest(name, Object.keys(COMMANDS));
    console.error(
      `cap: unknown command "${name}"${
        guess === null ? "" : `; did you mean "${guess}"?`
      }\n\nRun "deno task cap --help" for the list of commands.`,
    );
    return 2;
  }
  try {
    return await (await command.load())(rest, { signal });
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`cap ${name}: ${error.message}`);
      return 2;
    }
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
    code = await main(Deno.args, controller.signal);
  } catch (error) {
    const command = Deno.args[0] ?? "";
    console.error(
      controller.signal.aborted
        ? `cap ${command}: interrupted`
        : `cap ${command}: ${
          error instanceof Error ? error.message : String(error)
        }`,
    );
    code = controller.signal.aborted ? 130 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  Deno.exit(code);
}

if (import.meta.main) await _cli();
