/**
 * `cap stop --to <host:port>… [--reason TEXT] [--json]`: emergency stop of
 * every robot named, all at once.
 * @module
 */
import { _parseFlags } from "./_args.ts";
import { _eachRobot, _printFor, ROBOT_HELP, TLS_FLAGS } from "./_robots.ts";
import { UsageError } from "./_usage_error.ts";

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
  const flags = _parseFlags(args, {
    string: ["reason", ...TLS_FLAGS],
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
  const many = results.length > 1;
  if (flags.json === true) {
    const rows = results.map((r) =>
      r.ok
        ? { robot: r.robot, ok: true, runId: r.value.runId }
        : { robot: r.robot, ok: false, error: r.error }
    );
    if (many) console.log(JSON.stringify(rows, null, 2));
    else if (results[0]?.ok) {
      console.log(JSON.stringify({ runId: results[0].value.runId }));
    }
  } else {
    for (const r of results) {
      if (!r.ok) continue;
      _printFor(
        r.robot,
        many,
        `stopped${
          r.value.runId ? ` run ${r.value.runId}` : " (nothing was running)"
        }`,
      );
    }
    const failed = results.filter((r) => !r.ok);
    if (many && failed.length > 0) {
      console.error(
        `cap stop: ${failed.length} of ${results.length} robot(s) did not confirm the stop: ${
          failed.map((r) => r.robot).join(", ")
        }`,
      );
    }
  }
  return results.every((r) => r.ok) ? 0 : 1;
}
