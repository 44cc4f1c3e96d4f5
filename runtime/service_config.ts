import { HOST_PORT } from "../verifier/mod.ts";
import { z } from "zod";
import { type MqttConfig, MqttConfigSchema } from "./telemetry/mod.ts";
import { type Caps, DEFAULT_CAPS } from "./executor/mod.ts";

const HostPort = z.string().regex(
  HOST_PORT,
  'must be "host:port", e.g. "127.0.0.1:50051"',
).refine(
  (s) =>
    !/:[0-9]+$/.test(s) || Number(s.slice(s.lastIndexOf(":") + 1)) <= 65535,
  "port must be at most 65535",
);

/**
 * The `mqtt` block, checked by telemetry's own schema; its problems are
 * reported at their path inside this file, like ours.
 */
function _mqttBlock() {
  return z.unknown().transform((value, ctx): MqttConfig => {
    const result = MqttConfigSchema.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      ctx.addIssue({
        code: "custom",
        message: issue.message,
        path: issue.path.map((p) => typeof p === "number" ? p : String(p)),
      });
    }
    return z.NEVER;
  });
}

const _Schedule = z.strictObject({
  programId: z.string().min(1),
  everySeconds: z.number().int().min(1).optional(),
  atStart: z.boolean().default(false),
}).refine((s) => s.everySeconds !== undefined || s.atStart, {
  message: "needs everySeconds or atStart: true",
});

const _SimBackendConfig = z.strictObject({
  kind: z.literal("sim"),
  world: z.string().min(1).optional(),
  timeScale: z.number().min(0).max(1000).default(1),
});

const _Ros2BackendConfig = z.strictObject({
  kind: z.literal("ros2"),
  ros2: z.record(z.string(), z.unknown()).default({}),
});

const _ServiceConfig = z.strictObject({
  robotId: z.string().regex(
    /^[A-Za-z0-9_.:-]{1,128}$/,
    "must be 1-128 letters, digits, '_', '.', ':' or '-'",
  ),
  stateDir: z.string().min(1),
  grpc: z.strictObject({
    listen: HostPort,
    advertise: HostPort.optional(),
    tls: z.strictObject({
      cert: z.string().min(1),
      key: z.string().min(1),
      clientCa: z.string().min(1).optional(),
    }).optional(),
    maxMessageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(
      2 * 1024 * 1024,
    ),
    maxCallsInFlight: z.number().int().min(1).max(65_536).default(256),
  }),
  trustStore: z.string().min(1),
  backend: z.discriminatedUnion("kind", [
    _SimBackendConfig,
    _Ros2BackendConfig,
  ]),
  mqtt: _mqttBlock().optional(),
  caps: z.strictObject({
    timeoutMs: z.number().int().positive().default(DEFAULT_CAPS.timeoutMs),
    memoryBytes: z.number().int().min(1024 * 1024).default(
      DEFAULT_CAPS.memoryBytes,
    ),
    maxSkillCalls: z.number().int().positive().default(
      DEFAULT_CAPS.maxSkillCalls,
    ),
  }).prefault({}),
  clockSkewMs: z.number().int().min(0).max(24 * 3600 * 1000).default(60_000),
  schedule: z.array(_Schedule).default([]),
  metrics: z.strictObject({
    listen: HostPort.default("127.0.0.1:9464"),
  }).optional(),
  evidenceRetention: z.number().int().min(1).default(1000),
  evidence: z.strictObject({
    maxBytes: z.number().int().min(4096).max(64 * 1024 * 1024).default(
      262_144,
    ),
    journalFlushMs: z.number().int().min(0).max(1000).default(5),
  }).prefault({}),
  limits: z.strictObject({
    maxManifestLifetimeDays: z.number().positive().max(3650).default(90),
  }).prefault({}),
});

/**
 * The service configuration file, parsed: defaults filled in, paths
 * absolute (contract for the keys the design names).
 */
export interface ServiceConfig {
  /** The robot's id: 1-128 letters, digits, '_', '.', ':' or '-'. */
  robotId: string;
  /** Folder of the state files (program cache, journal, outbox, …). */
  stateDir: string;
  /** The gRPC service. */
  grpc: {
    /** `host:port` to listen on; a listen address that is not loopback needs TLS. */
    listen: string;
    /**
     * The `host:port` clients dial, announced in the heartbeat for the fleet
     * console. Default: `listen`, unless that is every interface (`0.0.0.0`,
     * `::`), which announces no address.
     */
    advertise?: string | undefined;
    /** Serve TLS with these PEM files; with `clientCa`, require client certificates (mTLS). */
    tls?:
      | { cert: string; key: string; clientCa?: string | undefined }
      | undefined;
    /** Largest request accepted, bytes (envelopes above it are refused); default 2 MiB. */
    maxMessageBytes: number;
    /**
     * Calls the gateway forwards to the core at once (Stop aside, always
     * forwarded); beyond it a call gets `UNAVAILABLE` at once. Default 256.
     */
    maxCallsInFlight: number;
  };
  /** The trust store file. */
  trustStore: string;
  /** The skills backend. */
  backend: SimBackendConfig | Ros2BackendConfig;
  /** MQTT telemetry; without it, none. */
  mqtt?: MqttConfig | undefined;
  /** The robot's caps on every run (a manifest may only lower them); default the executor's. */
  caps: Caps;
  /** Allowed clock difference for manifest validity, milliseconds; default 60 000. */
  clockSkewMs: number;
  /** Programs the robot runs on its own. */
  schedule: ScheduleEntry[];
  /** Serve Prometheus metrics at `GET http://<listen>/metrics` (default 127.0.0.1:9464). */
  metrics?: { listen: string } | undefined;
  /** Evidence records kept in the local store (newest); default 1000. */
  evidenceRetention: number;
  /** The evidence path. */
  evidence: {
    /** Largest serialised evidence record, bytes (MQTT, gRPC, local store); contract; default 262 144. */
    maxBytes: number;
    /** Most milliseconds a journaled skill call waits before it is written (a crash loses at most these); default 5. */
    journalFlushMs: number;
  };
  /** Limits on what the robot accepts. */
  limits: {
    /** Manifests valid for longer than this are refused (`lifetime_too_long`); contract; default 90. */
    maxManifestLifetimeDays: number;
  };
}

/** `backend` for the built-in simulator. */
export interface SimBackendConfig {
  /** `"sim"`. */
  kind: "sim";
  /** Scene file; without it the embedded two-object scene. */
  world?: string | undefined;
  /** Multiplies `wait` and skill latencies; default 1. */
  timeScale: number;
}

/** `backend` for ROS 2. */
export interface Ros2BackendConfig {
  /** `"ros2"`. */
  kind: "ros2";
  /** Passed to the ROS 2 backend (`parseRos2Config` in skills-bridge/ros2). */
  ros2: Record<string, unknown>;
}

/** One entry of `schedule`: a cached program the robot runs on its own. */
export interface ScheduleEntry {
  /** The cached program to run. */
  programId: string;
  /** Run it every N seconds (at least 1). */
  everySeconds?: number | undefined;
  /** Run it once when the service starts; default `false`. */
  atStart: boolean;
}

// The interfaces above and the schema describe the same values (both ways).
true satisfies [ServiceConfig, z.output<typeof _ServiceConfig>] extends
  [z.output<typeof _ServiceConfig>, ServiceConfig] ? true : never;

/** A configuration that cannot be used; the message names the field. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** The embedded default: sim backend, loopback gRPC, `./.state`, no broker. */
export const DEFAULT_CONFIG = {
  robotId: "local-sim",
  stateDir: ".state",
  grpc: { listen: "127.0.0.1:50051" },
  trustStore: ".state/trust.json",
  backend: { kind: "sim" },
};

/**
 * Validates a configuration value. Relative paths are resolved against
 * `baseDir` (the config file's folder).
 */
export function parseServiceConfig(
  value: unknown,
  options: { source?: string; baseDir?: string } = {},
): ServiceConfig {
  const result = _ServiceConfig.safeParse(value);
  const source = options.source ?? "configuration";
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.path.map((p, i) =>
        typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`
      )
        .join("");
      return `${path || "(top level)"}: ${issue.message}`;
    });
    throw new ConfigError(`Cannot use ${source}: ${problems.join("; ")}`);
  }
  const config = result.data;
  const base = options.baseDir ?? Deno.cwd();
  const abs = (p: string) => _resolvePath(base, p);
  config.stateDir = abs(config.stateDir);
  config.trustStore = abs(config.trustStore);
  if (config.backend.kind === "sim" && config.backend.world) {
    config.backend.world = abs(config.backend.world);
  }
  if (config.grpc.tls) {
    config.grpc.tls.cert = abs(config.grpc.tls.cert);
    config.grpc.tls.key = abs(config.grpc.tls.key);
    if (config.grpc.tls.clientCa) {
      config.grpc.tls.clientCa = abs(config.grpc.tls.clientCa);
    }
  }
  return config;
}

/** Reads and validates a JSON configuration file. */
export async function loadServiceConfig(path: string): Promise<ServiceConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(
      `Cannot read configuration "${path}": ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `Cannot use configuration "${path}": not valid JSON (${
        error instanceof Error ? error.message : String(error)
      })`,
    );
  }
  const dir = _resolvePath(Deno.cwd(), path).replace(/\/[^/]*$/, "") || "/";
  return parseServiceConfig(value, {
    source: `configuration "${path}"`,
    baseDir: dir,
  });
}

/** Joins `path` onto `base` unless it is absolute; normalizes `.` and `..`. */
export function _resolvePath(base: string, path: string): string {
  const joined = path.startsWith("/") ? path : `${base}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}
