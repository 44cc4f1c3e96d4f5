import { z } from "zod";

/** Where the bridge's systemd unit (deploy/cap-edge-ros2.service) puts its socket. */
export const ROS2_BRIDGE_SOCKET = "/var/lib/cap-edge/ros2/bridge.sock";

/** A ROS 2 graph name: `/pick`, `arm/pick`, `/cap/estop`. */
const RosName = z.string().regex(
  /^~?\/?[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/,
  'a ROS 2 name is "/"-separated parts of letters, digits and "_", not starting with a digit',
);

/** A goal or request field path: `query`, `target.pose.x`. */
const FieldPath = z.string().regex(
  /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/,
  'a field path is "."-separated snake_case ROS field names',
);

/**
 * The values each skill offers to its goal mapping (`goal: { field: source }`).
 * `place` flattens its target: `target_id` is the object id or `""` for a
 * table point; `x`, `y` are the point or `0` for an object; `on_object` tells
 * which. `detect` sends `""` for no query.
 */
export const ROS2_GOAL_SOURCES = {
  detect: ["query"],
  pick: ["id"],
  place: ["target_id", "x", "y", "on_object"],
  holding: [],
  workspace: [],
  wait: ["seconds"],
  say: ["text"],
} as const satisfies Record<string, readonly string[]>;

/** The goal mapping used when a skill's configuration gives none. */
export const ROS2_DEFAULT_GOALS: Record<
  keyof typeof ROS2_GOAL_SOURCES,
  Record<string, string>
> = {
  detect: { query: "query" },
  pick: { object_id: "id" },
  place: { target_id: "target_id", x: "x", y: "y" },
  holding: {},
  workspace: {},
  wait: { seconds: "seconds" },
  say: { text: "text" },
};

const SkillMappingBase = z.strictObject({
  /** A ROS 2 action (cancellable, with feedback) or a service. */
  type: z.enum(["action", "service"]),
  /** The action or service name, e.g. `/pick`. */
  name: RosName,
  /** The interface type, e.g. `cap_msgs/action/Pick` or `cap_msgs/srv/Detect`. */
  interface: z.string().regex(
    /^[A-Za-z_][A-Za-z0-9_]*\/(action|srv)\/[A-Z][A-Za-z0-9]*$/,
    'an interface type is "<package>/action/<Name>" or "<package>/srv/<Name>"',
  ),
  /** Goal (or request) field → skill value (see `ROS2_GOAL_SOURCES`). Default: `ROS2_DEFAULT_GOALS`. */
  goal: z.record(FieldPath, z.string()).optional(),
  /** How long the skill may run before it ends `backend_error`. */
  timeoutMs: z.number().int().positive().max(3_600_000).default(60_000),
});

/** How one skill maps onto a ROS 2 action or service. */
export type Ros2SkillMapping = z.infer<typeof SkillMappingBase>;

function mapping(skill: keyof typeof ROS2_GOAL_SOURCES) {
  const sources: readonly string[] = ROS2_GOAL_SOURCES[skill];
  return SkillMappingBase.superRefine((value, ctx) => {
    const kind = value.interface.split("/")[1];
    const want = value.type === "action" ? "action" : "srv";
    if (kind !== want) {
      ctx.addIssue({
        code: "custom",
        path: ["interface"],
        message:
          `a ${value.type} needs a "<package>/${want}/<Name>" interface, got "${value.interface}"`,
      });
    }
    for (const [field, source] of Object.entries(value.goal ?? {})) {
      if (!sources.includes(source)) {
        ctx.addIssue({
          code: "custom",
          path: ["goal", field],
          message: `${skill} offers ${
            sources.length === 0
              ? "no values"
              : sources.map((s) => `"${s}"`).join(", ")
          }, got "${source}"`,
        });
      }
    }
  });
}

/** `wait` and `say` may run on the robot itself instead of ROS 2. */
const LOCAL = z.literal("local");

/** Configuration of the ROS 2 skills backend (`backend.ros2` in the service config). */
export const Ros2Config = z.strictObject({
  /** Name of the node the backend creates. */
  nodeName: z.string().regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'a node name is letters, digits and "_", not starting with a digit',
  ).default("cap_edge_skills"),
  /** Namespace of that node; empty for the root. */
  namespace: z.string().default(""),
  /** How long to wait for an action or service server before `backend_error`. */
  serverTimeoutMs: z.number().int().positive().max(600_000).default(5_000),
  /** How long to wait for a cancelled goal to end before giving up on it. */
  cancelTimeoutMs: z.number().int().positive().max(600_000).default(2_000),
  /** `std_msgs/msg/Bool` topic whose `data: true` is an emergency stop; `null` for none. */
  estopTopic: RosName.nullable().default("/cap/estop"),
  /**
   * QoS of the e-stop subscription (history KEEP_LAST, volatile). Match the
   * publisher: a best-effort publisher never reaches a reliable subscription;
   * a best-effort subscription hears both.
   */
  estopQos: z.strictObject({
    reliability: z.enum(["reliable", "best_effort"]).default("reliable"),
    depth: z.number().int().positive().max(1000).default(10),
  }).default({ reliability: "reliable", depth: 10 }),
  /**
   * Where the ROS 2 bridge (a Node.js process holding rclnodejs) is:
   * `{ socket }` connects to the bridge's Unix socket (the robot: the bridge
   * runs as its own unit); `{ spawn }` starts `node <script>` on stdin/stdout
   * (development and tests; needs `--allow-run` for `node`).
   */
  bridge: z.union([
    z.strictObject({ socket: z.string().min(1) }),
    z.strictObject({
      spawn: z.strictObject({
        /** The Node.js (>= 20) executable. */
        node: z.string().min(1).default("node"),
        /** The bridge's entry; default: `bridge/main.js` beside this file. */
        script: z.string().min(1).optional(),
      }),
    }),
  ]).default({ socket: ROS2_BRIDGE_SOCKET }),
  /** How long `Ros2Backend.create` waits for the bridge to be ready. */
  connectTimeoutMs: z.number().int().positive().max(600_000).default(10_000),
  /** How often the core asks the bridge whether it is alive. */
  heartbeatMs: z.number().int().positive().max(60_000).default(1_000),
  /** After this long without a word from the bridge, it counts as gone. */
  heartbeatTimeoutMs: z.number().int().positive().max(600_000).default(5_000),
  /** The mapping of every skill of the tabletop API. */
  skills: z.strictObject({
    detect: mapping("detect"),
    pick: mapping("pick"),
    place: mapping("place"),
    holding: mapping("holding"),
    workspace: mapping("workspace"),
    wait: z.union([LOCAL, mapping("wait")]).default("local"),
    say: z.union([LOCAL, mapping("say")]).default("local"),
  }),
});

/** Configuration of the ROS 2 skills backend, after defaults. */
export type Ros2Config = z.infer<typeof Ros2Config>;
/** Configuration of the ROS 2 skills backend, as written in the file. */
export type Ros2ConfigInput = z.input<typeof Ros2Config>;

/** Parses a ROS 2 backend configuration, or throws a `TypeError` naming the bad field. */
export function parseRos2Config(value: unknown): Ros2Config {
  const result = Ros2Config.safeParse(value);
  if (result.success) return result.data;
  const why = result.error.issues.map((issue) =>
    `${
      issue.path.length > 0 ? issue.path.join(".") : "(root)"
    }: ${issue.message}`
  ).join("; ");
  throw new TypeError(`Cannot load the ROS 2 backend configuration: ${why}`);
}
