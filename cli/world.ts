/**
 * `cap world --to <host:port>… [--json]`: each robot's current world
 * estimate, what its next run starts from.
 * @module
 */
import type { WireWorld } from "../runtime/grpc/mod.ts";
import { _parseCommand } from "./_args.ts";
import {
  _eachRobot,
  _parseRobotCommand,
  _report,
  ROBOT_HELP,
} from "./_robots.ts";
import { _table } from "./_table.ts";

const HELP = `Usage: deno task cap world --to <host:port>… [--json]

Shows each robot's current world estimate: what it holds and where every
object is (the state its next run starts from; a dry-run that passed and a
robot run that failed often differ here).

Options:
  --json                  print { robotId, state, world, at } (several
                          robots: an array of { robot, ok, …, error })
  -h, --help              show this help

${ROBOT_HELP}

Exit: 0 every robot answered, 1 a robot could not be reached, 2 bad usage.`;

/** `cap world`: exit 0 when every robot answered, 1 otherwise, 2 on bad usage. */
export async function worldCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseRobotCommand(args, HELP);
  if (flags === null) return 0;
  const results = await _eachRobot(
    flags,
    {
      command: "world",
      doing: "read the world estimate",
      ...(options.signal ? { signal: options.signal } : {}),
    },
    (client) =>
      client.getWorld(options.signal ? { signal: options.signal } : {}),
  );
  return _report(results, {
    json: flags.json === true,
    single: (answer) => answer,
    row: (answer) => ({ ...answer }),
    text: _renderWorld,
  });
}

/** The world estimate as text: a header line, what is held, one row per object. */
export function _renderWorld(answer: WireWorld): string {
  const head = `robot ${answer.robotId} (${answer.state}) at ${answer.at}`;
  if (answer.world === null) {
    return `${head}\nno world estimate (the backend keeps none)`;
  }
  const objects = answer.world.objects as Array<Record<string, unknown>>;
  const num = (v: unknown) => typeof v === "number" ? v.toFixed(3) : "-";
  return [
    head,
    `holding: ${answer.world.holding ?? "nothing"}`,
    objects.length === 0 ? "no objects" : _table(
      ["OBJECT", "KIND", "COLOR", "X", "Y", "Z", "ON"],
      objects.map((o) => [
        String(o.id ?? "?"),
        String(o.kind ?? "-"),
        String(o.color ?? "-"),
        num(o.x),
        num(o.y),
        num(o.z),
        o.on === null || o.on === undefined ? "table" : String(o.on),
      ]),
    ),
  ].join("\n");
}
