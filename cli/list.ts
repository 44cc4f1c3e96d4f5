/**
 * `cap list --to <host:port>… [--json]`: the programs cached on each robot.
 * @module
 */
import type { WireProgram } from "../runtime/grpc/mod.ts";
import { _parseFlags } from "./_args.ts";
import { _eachRobot, _printFor, ROBOT_HELP, TLS_FLAGS } from "./_robots.ts";
import { _table } from "./_table.ts";
import { UsageError } from "./_usage_error.ts";

const HELP = `Usage: deno task cap list --to <host:port>… [--json]

Lists the programs in each robot's program cache, newest version of each
first: program id, version, signing key, expiry and instruction.

Options:
  --json                  print the programs as JSON (several robots: an
                          array of { robot, ok, programs, error })
  -h, --help              show this help

${ROBOT_HELP}

Exit: 0 every robot answered, 1 a robot could not be reached, 2 bad usage.`;

/** `cap list`: exit 0 when every robot answered, 1 otherwise, 2 on bad usage. */
export async function listCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseFlags(args, {
    string: TLS_FLAGS,
    boolean: ["json"],
    collect: ["to"],
  });
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags._.length > 0) {
    throw new UsageError(`unexpected argument "${flags._[0]}"`);
  }
  const results = await _eachRobot(flags, {
    command: "list",
    doing: "list the programs",
    ...(options.signal ? { signal: options.signal } : {}),
  }, (client) => client.list(options.signal ? { signal: options.signal } : {}));
  const many = results.length > 1;
  if (flags.json === true) {
    if (many) {
      console.log(JSON.stringify(
        results.map((r) =>
          r.ok
            ? { robot: r.robot, ok: true, programs: r.value }
            : { robot: r.robot, ok: false, error: r.error }
        ),
        null,
        2,
      ));
    } else if (results[0]?.ok) {
      console.log(JSON.stringify(results[0].value, null, 2));
    }
  } else {
    for (const r of results) {
      if (r.ok) _printFor(r.robot, many, _renderPrograms(r.value));
    }
  }
  return results.every((r) => r.ok) ? 0 : 1;
}

/** The programs as a table whose columns widen to the longest value. */
export function _renderPrograms(programs: WireProgram[]): string {
  if (programs.length === 0) return "no cached programs";
  return _table(
    ["PROGRAM", "VERSION", "KEY", "EXPIRES", "INSTRUCTION"],
    programs.map((p) => [
      p.programId,
      `v${p.version}`,
      p.keyId,
      p.expiresAt,
      p.instruction,
    ]),
  );
}
