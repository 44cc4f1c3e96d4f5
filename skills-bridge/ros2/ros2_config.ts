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

/** How one skill maps onto a ROS 2 action or service. */
export interface Ros2SkillMapping {
  /** A ROS 2 action (cancellable, with feedback) or a service. */
  type: "action" | "service";
  /** The action or service name, e.g. `/pick`. */
  name: string;
  /** The interface type, e.g. `cap_msgs/action/Pick` or `cap_msgs/srv/Detect`. */
  interface: string;
  /** Goal (or request) field → skill value (see `ROS2_GOAL_SOURCES`). Default: `ROS2_DEFAULT_GOALS`. */
  goal?: Record<string, string> | undefined;
  /** How long the skill may run before it ends `backend_error`; default 60 000 ms. */
  timeoutMs: number;
}

/** A {@linkcode Ros2SkillMapping} as written in the file (`timeoutMs` may be left out). */
export type Ros2SkillMappingInput =
  & Omit<Ros2SkillMapping, "timeoutMs">
  & { timeoutMs?: number | undefined };

const SkillMappingBase = z.strictObject({
  type: z.enum(["action", "service"]),
  name: RosName,
  interface: z.string().regex(
    /^[A-Za-z_][A-Za-z0-9_]*\/(action|srv)\/[A-Z][A-Za-z0-9]*$/,
    'an interface type is "<package>/action/<Name>" or "<package>/srv/<Name>"',
  ),
  goal: z.record(FieldPath, z.string()).optional(),
  timeoutMs: z.number().int().positive().max(3_600_000).default(60_000),
});

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

/** Where the ROS 2 bridge is: its Unix socket, or a `node` process to start. */
export type Ros2BridgeLocation =
  | { socket: string }
  | {
    spawn: {
      /** The Node.js (>= 20) executable; default `node`. */
      node: string;
      /** The bridge's entry; default: `bridge/main.js` beside this file. */
      script?: string | undefined;
    };
  };

/** Configuration of the ROS 2 skills backend (`backend.ros2` in the service config), after defaults. */
export interface Ros2Config {
  /** Name of the node the backend creates; default `cap_edge_skills`. */
  nodeName: string;
  /** Namespace of that node; empty (the default) for the root. */
  namespace: string;
  /** How long to wait for an action or service server before `backend_error`; default 5 000 ms. */
  serverTimeoutMs: number;
  /** How long to wait for a cancelled goal to end before giving up on it; default 2 000 ms. */
  cancelTimeoutMs: number;
  /** `std_msgs/msg/Bool` topic whose `data: true` is an emergency stop; `null` for none. Default `/cap/estop`. */
  estopTopic: string | null;
  /**
   * QoS of the e-stop subscription (history KEEP_LAST, volatile); default
   * reliable, depth 10. Match the publisher: a best-effort publisher never
   * reaches a reliable subscription; a best-effort subscription hears both.
   */
  estopQos: { reliability: "reliable" | "best_effort"; depth: number };
  /**
   * Where the ROS 2 bridge (a Node.js process holding rclnodejs) is:
   * `{ socket }` connects to the bridge's Unix socket (the robot: the bridge
   * runs as its own unit; default {@linkcode ROS2_BRIDGE_SOCKET}); `{ spawn }`
   * starts `node <script>` on stdin/stdout (development and tests; needs
   * `--allow-run` for `node`).
   */
  bridge: Ros2BridgeLocation;
  /** How long `Ros2Backend.create` waits for the bridge to be ready; default 10 000 ms. */
  connectTimeoutMs: number;
  /** How often the core asks the bridge whether it is alive; default 1 000 ms. */
  heartbeatMs: number;
  /** After this long without a word from the bridge, it counts as gone; default 5 000 ms. */
  heartbeatTimeoutMs: number;
  /** The mapping of every skill of the tabletop API; `wait` and `say` default to `"local"`. */
  skills: Ros2SkillMappings<Ros2SkillMapping>;
}

/** The mapping of each tabletop skill; `wait` and `say` may run on the robot itself (`"local"`). */
export interface Ros2SkillMappings<M> {
  /** `detect`. */
  detect: M;
  /** `pick`. */
  pick: M;
  /** `place`. */
  place: M;
  /** `holding`. */
  holding: M;
  /** `workspace`. */
  workspace: M;
  /** `wait`: `"local"` or a mapping. */
  wait: "local" | M;
  /** `say`: `"local"` or a mapping. */
  say: "local" | M;
}

/** Configuration of the ROS 2 skills backend, as written in the file: what has a default may be left out. */
export interface Ros2ConfigInput {
  /** See {@linkcode Ros2Config.nodeName}. */
  nodeName?: string | undefined;
  /** See {@linkcode Ros2Config.namespace}. */
  namespace?: string | undefined;
  /** See {@linkcode Ros2Config.serverTimeoutMs}. */
  serverTimeoutMs?: number | undefined;
  /** See {@linkcode Ros2Config.cancelTimeoutMs}. */
  cancelTimeoutMs?: number | undefined;
  /** See {@linkcode Ros2Config.estopTopic}. */
  estopTopic?: string | null | undefined;
  /** See {@linkcode Ros2Config.estopQos}. */
  estopQos?:
    | {
      reliability?: "reliable" | "best_effort" | undefined;
      depth?: number | undefined;
    }
    | undefined;
  /** See {@linkcode Ros2Config.bridge}. */
  bridge?:
    | { socket: string }
    | {
      spawn: {
        node?: string | undefined;
        script?: string | undefined;
      };
    }
    | undefined;
  /** See {@linkcode Ros2Config.connectTimeoutMs}. */
  connectTimeoutMs?: number | undefined;
  /** See {@linkcode Ros2Config.heartbeatMs}. */
  heartbeatMs?: number | undefined;
  /** See {@linkcode Ros2Config.heartbeatTimeoutMs}. */
  heartbeatTimeoutMs?: number | undefined;
  /** See {@linkcode Ros2Config.skills}. */
  skills:
    & Omit<Ros2SkillMappings<Ros2SkillMappingInput>, "wait" | "say">
    & {
      wait?: "local" | Ros2SkillMappingInput | undefined;
      say?: "local" | Ros2SkillMappingInput | undefined;
    };
}

const _Ros2Config = z.strictObject({
  nodeName: z.string().regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'a node name is letters, digits and "_", not starting with a digit',
  ).default("cap_edge_skills"),
  namespace: z.string().default(""),
  serverTimeoutMs: z.number().int().positive().max(600_000).default(5_000),
  cancelTimeoutMs: z.number().int().positive().max(600_000).default(2_000),
  estopTopic: RosName.nullable().default("/cap/estop"),
  estopQos: z.strictObject({
    reliability: z.enum(["reliable", "best_effort"]).default("reliable"),
    depth: z.number().int().positive().max(1000).default(10),
  }).default({ reliability: "reliable", depth: 10 }),
  bridge: z.union([
    z.strictObject({ socket: z.string().min(1) }),
    z.strictObject({
      spawn: z.strictObject({
        node: z.string().min(1).default("node"),
        script: z.string().min(1).optional(),
      }),
    }),
  ]).default({ socket: ROS2_BRIDGE_SOCKET }),
  connectTimeoutMs: z.number().int().positive().max(600_000).default(10_000),
  heartbeatMs: z.number().int().positive().max(60_000).default(1_000),
  heartbeatTimeoutMs: z.number().int().positive().max(600_000).default(5_000),
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

// The interfaces above and the schema describe the same values (both ways).
true satisfies [
  [Ros2Config, Ros2ConfigInput, Ros2SkillMapping],
  [
    z.output<typeof _Ros2Config>,
    z.input<typeof _Ros2Config>,
    z.output<typeof SkillMappingBase>,
  ],
] extends [
  [
    z.output<typeof _Ros2Config>,
    z.input<typeof _Ros2Config>,
    z.output<typeof SkillMappingBase>,
  ],
  [Ros2Config, Ros2ConfigInput, Ros2SkillMapping],
] ? true
  : never;

/** Parses a ROS 2 backend configuration, or throws a `TypeError` naming the bad field. */
export function parseRos2Config(value: unknown): Ros2Config {
  const result = _Ros2Config.safeParse(value);
  if (result.success) return result.data;
  const why = result.error.issues.map((issue) =>
    `${
      issue.path.length > 0 ? issue.path.join(".") : "(root)"
    }: ${issue.message}`
  ).join("; ");
  throw new TypeError(`Cannot load the ROS 2 backend configuration: ${why}`);
}
