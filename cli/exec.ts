/**
 * `cap exec <program-id> --to <host:port>… [--version N] [--json]`: runs a
 * program cached on each robot named, showing the run as it happens.
 * @module
 */
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
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
  _printFor,
  _report,
  ROBOT_HELP,
} from "./_robots.ts";
import { _eventLine, _renderRunEnd } from "./_run_view.ts";

const HELP =
  `Usage: deno task cap exec <program-id> --to <host:port>… [--version N] [--json]
         [--operator-key <private.jwk.json>]

Runs a program already in the robot's program cache (see "cap list") and
shows the run as it happens: one line per skill call, then the outcome, the
checks and the resources (the same view as "cap run").

Options:
  --version N             the version to run (default: the newest cached;
                          an older one is refused)
  --json                  print only the evidence record as JSON; several
                          robots: an array of { robot, ok, evidence, error }
${OPERATOR_KEY_HELP}
  -h, --help              show this help

${ROBOT_HELP}

Exit: 0 every run succeeded, 1 a run failed or a robot refused or could not be
reached, 2 bad usage.`;

/** `cap exec`: exit 0 when every run succeeded, 1 otherwise, 2 on bad usage. */
export async function execCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseRobotCommand(args, HELP, {
    string: ["version", ...OPERATOR_FLAGS],
    integers: ["version"],
    argument: "program id",
  });
  if (flags === null) return 0;
  const programId = flags._[0]!;
  const version = flags.version === undefined
    ? undefined
    : Number(flags.version);
  const operatorKey = await _operatorKey(flags);
  const json = flags.json === true;
  const signal = options.signal ? { signal: options.signal } : {};
  const many = Array.isArray(flags.to) && new Set(flags.to).size > 1;
  const results = await _eachRobot<EvidenceRecord>(flags, {
    command: "exec",
    doing: `run "${programId}"`,
    ...(options.signal ? { signal: options.signal } : {}),
  }, async (client, robot) => {
    const command = operatorKey === null ? null : await _signOperatorCommand({
      command: "run",
      robot: await _commandRobotId(flags, () => client.getWorld(signal)),
      programId,
      ...(version === undefined ? {} : { version }),
    }, operatorKey);
    const evidence = await client.run(programId, {
      ..._withCommand(command),
      ...(version === undefined ? {} : { version }),
      ...(options.signal ? { signal: options.signal } : {}),
      onEvent: (event) => {
        if (json) return;
        const line = _eventLine(event);
        if (line !== null) _printFor(robot, many, line);
      },
    });
    if (!json) _printFor(robot, many, _renderRunEnd(evidence));
    return evidence;
  });
  return _report(results, {
    json,
    single: (evidence) => evidence,
    row: (evidence) => ({ evidence }),
    text: () => null, // printed as it happened
    ok: (evidence) => evidence.outcome === "succeeded",
  });
}
