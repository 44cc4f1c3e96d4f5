/**
 * `cap list --to <host:port>… [--json]`: the programs cached on each robot.
 * @module
 */
import type { WireProgram } from "../runtime/grpc/mod.ts";
import { _parseCommand } from "./_args.ts";
import {
  _eachRobot,
  _parseRobotCommand,
  _report,
  ROBOT_HELP,
} from "./_robots.ts";
import { _table } from "./_table.ts";

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
  const flags = _parseRobotCommand(args, HELP);
  if (flags === null) return 0;
  const results = await _eachRobot(flags, {
    command: "list",
    doing: "list the programs",
    ...(options.signal ? { signal: options.signal } : {}),
  }, (client) => client.list(options.signal ? { signal: options.signal } : {}));
  return _report(results, {
    json: flags.json === true,
    single: (programs) => programs,
    row: (programs) => ({ programs }),
    text: _renderPrograms,
  });
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
