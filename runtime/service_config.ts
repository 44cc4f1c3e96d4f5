import { z } from "zod";
import { MqttConfigSchema } from "./telemetry/mod.ts";
import { DEFAULT_CAPS } from "./executor/mod.ts";

const HostPort = z.string().regex(
  /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/,
  'must be "host:port", e.g. "127.0.0.1:50051"',
).refine(
  (s) =>
    !/:[0-9]+$/.test(s) || Number(s.slice(s.lastIndexOf(":") + 1)) <= 65535,
  "port must be at most 65535",
);

const Schedule = z.strictObject({
  /** The cached program to run. */
  programId: z.string().min(1),
  /** Run it every N seconds (at least 1). */
  everySeconds: z.number().int().min(1).optional(),
  /** Run it once when the service starts. */
  atStart: z.boolean().default(false),
}).refine((s) => s.everySeconds !== undefined || s.atStart, {
  message: "needs everySeconds or atStart: true",
});

const SimBackendConfig = z.strictObject({
  kind: z.literal("sim"),
  /** Scene file; without it the embedded two-object scene. */
  world: z.string().min(1).optional(),
  /** Multiplies `wait` and skill latencies; default 1. */
  timeScale: z.number().min(0).max(1000).default(1),
});

const Ros2BackendConfig = z.strictObject({
  kind: z.literal("ros2"),
  /** Passed to the ROS 2 backend (see skills-bridge/ros2). */
  ros2: z.record(z.string(), z.unknown()).default({}),
});

/** The service configuration file (contract for the keys the design names). */
export const ServiceConfig = z.strictObject({
  robotId: z.string().regex(
    /^[A-Za-z0-9_.:-]{1,128}$/,
    "must be 1-128 letters, digits, '_', '.', ':' or '-'",
  ),
  stateDir: z.string().min(1),
  grpc: z.strictObject({
    listen: HostPort,
    /**
     * The `host:port` clients dial, announced in the heartbeat for the fleet
     * console. Default: `listen`, unless that is every interface (`0.0.0.0`,
     * `::`), which announces no address.
     */
    advertise: HostPort.optional(),
    /** Serve TLS with these PEM files; with `clientCa`, require client certificates (mTLS). */
    tls: z.strictObject({
      cert: z.string().min(1),
      key: z.string().min(1),
      clientCa: z.string().min(1).optional(),
    }).optional(),
    /** Largest request accepted, bytes (envelopes above it are refused). */
    maxMessageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(
      2 * 1024 * 1024,
    ),
  }),
  trustStore: z.string().min(1),
  backend: z.discriminatedUnion("kind", [SimBackendConfig, Ros2BackendConfig]),
  mqtt: MqttConfigSchema.optional(),
  caps: z.strictObject({
    timeoutMs: z.number().int().positive().default(DEFAULT_CAPS.timeoutMs),
    memoryBytes: z.number().int().min(1024 * 1024).default(
      DEFAULT_CAPS.memoryBytes,
    ),
    maxSkillCalls: z.number().int().positive().default(
      DEFAULT_CAPS.maxSkillCalls,
    ),
  }).prefault({}),
  /** Allowed clock difference for manifest validity, milliseconds. */
  clockSkewMs: z.number().int().min(0).max(24 * 3600 * 1000).default(60_000),
  schedule: z.array(Schedule).default([]),
  /** Serve Prometheus metrics at `GET http://<listen>/metrics` (default 127.0.0.1:9464). */
  metrics: z.strictObject({
    listen: HostPort.default("127.0.0.1:9464"),
  }).optional(),
  /** Evidence records kept in the local store (newest). */
  evidenceRetention: z.number().int().min(1).default(1000),
  evidence: z.strictObject({
    /** Largest serialised evidence record, bytes (MQTT, gRPC, local store); contract. */
    maxBytes: z.number().int().min(4096).max(64 * 1024 * 1024).default(
      262_144,
    ),
    /** Most milliseconds a journaled skill call waits before it is written (a crash loses at most these). */
    journalFlushMs: z.number().int().min(0).max(1000).default(5),
  }).prefault({}),
  limits: z.strictObject({
    /** Manifests valid for longer than this are refused (`lifetime_too_long`); contract. */
    maxManifestLifetimeDays: z.number().positive().max(3650).default(90),
  }).prefault({}),
});

/** The parsed service configuration, defaults filled in, paths absolute. */
export type ServiceConfig = z.output<typeof ServiceConfig>;

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
  const result = ServiceConfig.safeParse(value);
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
