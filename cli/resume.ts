/**
 * `cap resume --to <host:port>… [--json]`: allows runs again after an
 * emergency stop.
 * @module
 */
import { _parseCommand } from "./_args.ts";
import {
  _commandRobotId,
  _operatorKey,
  _signOperatorCommand,
  _withCommand,
  OPERATOR_FLAGS,
  OPERATOR_KEY_HELP,
} from "./_operator_key.ts";
import {
  _eachRobot,
  _parseRobotCommand,
  _report,
  ROBOT_HELP,
} from "./_robots.ts";

const HELP =
  `Usage: deno task cap resume --to <host:port>… [--json] [--operator-key <private.jwk.json>]

Releases the emergency stop of each robot named: it accepts runs again.

Options:
  --json                  print { wasStopped } (several robots: an array of
                          { robot, ok, wasStopped, error })
${OPERATOR_KEY_HELP}
  -h, --help              show this help

${ROBOT_HELP}

Exit: 0 every robot answered, 1 a robot refused or could not be reached,
2 bad usage.`;

/** `cap resume`: exit 0 when every robot answered, 1 otherwise, 2 on bad usage. */
export async function resumeCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseRobotCommand(args, HELP, { string: OPERATOR_FLAGS });
  if (flags === null) return 0;
  const operatorKey = await _operatorKey(flags);
  const results = await _eachRobot(flags, {
    command: "resume",
    doing: "resume the robot",
    ...(options.signal ? { signal: options.signal } : {}),
  }, async (client) => {
    const signal = options.signal ? { signal: options.signal } : {};
    const command = operatorKey === null ? null : await _signOperatorCommand({
      command: "resume",
      robot: await _commandRobotId(flags, () => client.getWorld(signal)),
    }, operatorKey);
    return await client.resume({ ...signal, ..._withCommand(command) });
  });
  return _report(results, {
    json: flags.json === true,
    single: ({ wasStopped }) => ({ wasStopped }),
    row: ({ wasStopped }) => ({ wasStopped }),
    text: ({ wasStopped }) => wasStopped ? "resumed" : "was not stopped",
  });
}
