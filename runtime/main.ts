/**
 * The edge service entry: `deno task start [--config <file.json>]`.
 * Without `--config`: the embedded default (sim backend, loopback gRPC on
 * 127.0.0.1:50051, state in ./.state, no broker).
 * @module
 */
import { parseArgs } from "node:util";
import { Ros2UnavailableError } from "../skills-bridge/mod.ts";
import {
  ConfigError,
  DEFAULT_CONFIG,
  loadServiceConfig,
  parseServiceConfig,
  type ServiceConfig,
} from "./service_config.ts";
import { startEdgeNode } from "./start_edge_node.ts";
import type { EdgeLog } from "./service/mod.ts";
import { Metrics, type MetricsServer, serveMetrics } from "./metrics/mod.ts";

const HELP =
  `Usage: deno task start [--config <file.json>] [--listen <host:port>] [--log-level <level>]

Runs the cap-edge service: accepts signed programs over gRPC, keeps them in
its cache, runs them in the sandbox, and streams evidence over MQTT when
configured. Without --config it uses the embedded default (sim backend,
127.0.0.1:50051, state in ./.state, trust store ./.state/trust.json).
SIGTERM or SIGINT stops a running program safely and closes cleanly;
SIGHUP reads the trust store again (a revoked key takes effect at once).

Options:
  --config <file>        the service configuration (default: the embedded one)
  --listen <host:port>   the gRPC address, over the configuration's grpc.listen
                         (default 127.0.0.1:50051; not loopback needs grpc.tls)
  --log-level <level>    debug, info, warn or error (default debug); one JSON
                         object per line on stderr with runId, programId,
                         version, outcome and label as fields
  --quiet                the same as --log-level info
  -h, --help             show this help

Exit: 0 stopped by SIGTERM/SIGINT, 1 could not start (e.g. the ROS 2 bridge),
2 a configuration or usage error (the message names the field).`;

/** The lowest level a log line needs to be written. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The log levels, lowest first. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "debug",
  "info",
  "warn",
  "error",
];

const _SEE_HELP = 'run "deno task start --help" for the options';

/**
 * Reports why the service cannot start the way `cap` reports its errors:
 * one line on stderr, `cap-edge: <what was wrong>`, naming the flag or the
 * configuration key and file; resolves the exit code.
 */
function _fatal(code: 1 | 2, message: string): number {
  console.error(`cap-edge: ${message}`);
  return code;
}

/**
 * Logs one JSON line per event on stderr, from `minimum` up (`true`: from
 * `info`, `false`: everything).
 */
export const jsonLog =
  (minimum: boolean | LogLevel): EdgeLog => (level, message, data) => {
    const floor = minimum === true
      ? "info"
      : minimum === false
      ? "debug"
      : minimum;
    if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(floor)) return;
    const line = JSON.stringify({
      ts: new Date().toISOString(),
      level,
      msg: message,
      ...data,
    });
    console.error(line);
  };

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        config: { type: "string" },
        listen: { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
        quiet: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // node:util's own words, without its hint about positionals.
    const why = (error as Error).message.replace(/\. To specify .*$/s, "");
    return _fatal(2, `${why}; ${_SEE_HELP}`);
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const level = values["log-level"] ?? (values.quiet ? "info" : "debug");
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    return _fatal(
      2,
      `--log-level must be one of ${
        LOG_LEVELS.join(", ")
      }, got "${level}"; ${_SEE_HELP}`,
    );
  }
  const log = jsonLog(level as LogLevel);
  let config: ServiceConfig;
  try {
    config = values.config
      ? await loadServiceConfig(values.config)
      : parseServiceConfig(DEFAULT_CONFIG, {
        source: "the embedded default configuration",
      });
    if (values.listen !== undefined) {
      // The same checks as the file's grpc.listen (TLS off loopback, …).
      config = parseServiceConfig(
        {
          ...configInput(config),
          grpc: { ...config.grpc, listen: values.listen },
        },
        { source: `--listen "${values.listen}" with the configuration` },
      );
    }
    if (values.config !== undefined) {
      await assertTrustStore(config, values.config);
    }
  } catch (error) {
    // ConfigError: "Cannot use configuration "<file>": <key>: <what is wrong>".
    return _fatal(2, (error as Error).message);
  }
  // With a metrics block, every structured log record also feeds the metrics.
  const metrics = config.metrics === undefined ? null : new Metrics();
  const tapped: EdgeLog = metrics === null ? log : (level, message, data) => {
    metrics.observeLog(data);
    log(level, message, data);
  };
  let node;
  try {
    node = await startEdgeNode(config, {
      log: tapped,
      allowMissingTrustStore: values.config === undefined,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      // A configuration the robot cannot use: restarting will not fix it.
      return _fatal(2, error.message);
    }
    if (error instanceof Ros2UnavailableError) {
      return _fatal(1, error.message);
    }
    return _fatal(
      1,
      `Cannot start robot "${config.robotId}": ${(error as Error).message}`,
    );
  }
  let metricsServer: MetricsServer | null = null;
  if (metrics !== null && config.metrics !== undefined) {
    const telemetry = node.telemetry;
    if (telemetry !== null) {
      metrics.gauge(
        "cap_mqtt_connected",
        "1 while the broker connection is up.",
        () => [[{}, telemetry.stats().connected ? 1 : 0]],
      );
      metrics.gauge(
        "cap_evidence_acked",
        "Evidence records the broker acknowledged since start.",
        () => [[{}, telemetry.stats().evidenceAcked]],
      );
      metrics.gauge(
        "cap_evidence_in_flight",
        "Evidence records sent and not yet acknowledged.",
        () => [[{}, telemetry.stats().evidenceInFlight]],
      );
      metrics.gauge(
        "cap_evidence_refused",
        "Evidence records refused by a full outbox since start.",
        () => [[{}, telemetry.stats().evidenceRefused]],
      );
    }
    const outbox = () => telemetry?.outboxStats() ?? null;
    metrics.gauge(
      "cap_outbox_depth",
      "Evidence records waiting in the outbox.",
      () => {
        const stats = outbox();
        return stats === null ? [] : [[{}, stats.depth]];
      },
    );
    metrics.gauge(
      "cap_outbox_oldest_age_seconds",
      "Age of the oldest record waiting in the outbox.",
      () => {
        const stats = outbox();
        return stats === null ? [] : [[{}, stats.oldestAgeMs / 1000]];
      },
    );
    const started = node;
    metrics.gauge(
      "cap_gateway_restarts_total",
      "gRPC gateway processes restarted after they died.",
      () => [[{}, started.grpc.restarts]],
      "counter",
    );
    metrics.gauge(
      "cap_sandbox_restarts_total",
      "Sandbox host processes replaced after they died.",
      () => [[{}, started.service.sandboxRestarts]],
      "counter",
    );
    try {
      metricsServer = serveMetrics(config.metrics.listen, metrics);
    } catch (error) {
      await node.close({ exiting: true });
      const source = values.config === undefined
        ? "the configuration"
        : `configuration "${values.config}"`;
      return _fatal(
        2,
        `Cannot serve metrics on metrics.listen "${config.metrics.listen}" of ${source}: ${
          (error as Error).message
        }; change metrics.listen or free that address`,
      );
    }
    log("info", `metrics on http://${metricsServer.address}/metrics`);
  }
  // The handlers come before the "serving" line: a supervisor that signals
  // as soon as it reads that line must find them installed.
  const { promise: stopped, resolve } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  const handlers = signals.map((signal) => {
    const handler = () => resolve(signal);
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  const onHangup = () => void node.reloadTrustStore();
  Deno.addSignalListener("SIGHUP", onHangup);
  log(
    "info",
    `robot "${config.robotId}" serving gRPC on ${node.grpc.address}`,
    {
      stateDir: config.stateDir,
      backend: config.backend.kind,
      mqtt: config.mqtt?.url ?? null,
    },
  );
  const signal = await stopped;
  Deno.removeSignalListener("SIGHUP", onHangup);
  log("info", `received ${signal}: shutting down`);
  await node.close({ exiting: true });
  await metricsServer?.[Symbol.asyncDispose]();
  for (const [name, handler] of handlers) {
    Deno.removeSignalListener(name, handler);
  }
  log("info", "closed");
  return 0;
}

/** A parsed configuration as input again (its paths are absolute already). */
function configInput(config: ServiceConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify(config));
}

/** With `--config`, a missing trust store is a configuration error naming the path. */
async function assertTrustStore(
  config: ServiceConfig,
  configPath: string,
): Promise<void> {
  try {
    await Deno.stat(config.trustStore);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return;
    throw new ConfigError(
      `Cannot use configuration "${configPath}": trustStore: no file at "${config.trustStore}" (create one with "deno task cap init", or "deno task cap keygen --out <dir>" and set trustStore to <dir>/trust.json)`,
    );
  }
}

if (import.meta.main) Deno.exit(await main());
