/**
 * `cap stop --to <host:port>… [--reason TEXT] [--json]`: emergency stop of
 * every robot named, all at once.
 * @module
 */
import { _parseCommand } from "./_args.ts";
import {
  _eachRobot,
  _parseRobotCommand,
  _report,
  ROBOT_HELP,
} from "./_robots.ts";

const HELP =
  `Usage: deno task cap stop --to <host:port>… [--reason TEXT] [--json]

Emergency stop: each robot halts its running program, cancels its skills and
refuses new runs until "cap resume". With several --to, every robot is sent
the stop at the same time and each answer is reported. Stopping needs no
operator key.

Options:
  --reason <text>         why, recorded in the evidence (default: none)
  --json                  print { runId } (several robots: an array of
                          { robot, ok, runId, error })
  -h, --help              show this help

${ROBOT_HELP}

Exit: 0 every robot confirmed the stop, 1 a robot could not be reached or
refused (it may still be moving), 2 bad usage.`;

/** `cap stop`: exit 0 when every robot confirmed, 1 otherwise, 2 on bad usage. */
export async function stopCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseRobotCommand(args, HELP, { string: ["reason"] });
  if (flags === null) return 0;
  const reason = typeof flags.reason === "string" ? flags.reason : "";
  const results = await _eachRobot(
    flags,
    {
      command: "stop",
      doing: "stop the robot",
      ...(options.signal ? { signal: options.signal } : {}),
    },
    (client) =>
      client.stop(reason, options.signal ? { signal: options.signal } : {}),
  );
  const code = _report(results, {
    json: flags.json === true,
    single: ({ runId }) => ({ runId }),
    row: ({ runId }) => ({ runId }),
    text: ({ runId }) =>
      `stopped${runId ? ` run ${runId}` : " (nothing was running)"}`,
  });
  const failed = results.filter((r) => !r.ok);
  if (results.length > 1 && failed.length > 0) {
    console.error(
      `cap stop: ${failed.length} of ${results.length} robot(s) did not confirm the stop: ${
        failed.map((r) => r.robot).join(", ")
      }`,
    );
  }
  return code;
}
