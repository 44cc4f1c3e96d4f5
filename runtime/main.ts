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

const HELP = `Usage: deno task start [--config <file.json>] [--quiet]

Runs the cap-edge service: accepts signed programs over gRPC, keeps them in
its cache, runs them in the sandbox, and streams evidence over MQTT when
configured. Without --config it uses the embedded default (sim backend,
127.0.0.1:50051, state in ./.state, trust store ./.state/trust.json).
SIGTERM or SIGINT stops a running program safely and closes cleanly;
SIGHUP reads the trust store again (a revoked key takes effect at once).`;

/** Logs one JSON line per event on stderr. */
export const jsonLog = (quiet: boolean): EdgeLog => (level, message, data) => {
  if (quiet && level === "debug") return;
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
        help: { type: "boolean", short: "h" },
        quiet: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`cap-edge: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const log = jsonLog(values.quiet === true);
  let config: ServiceConfig;
  try {
    config = values.config
      ? await loadServiceConfig(values.config)
      : parseServiceConfig(DEFAULT_CONFIG, {
        source: "the embedded default configuration",
      });
  } catch (error) {
    console.error(`cap-edge: ${(error as Error).message}`);
    return 2;
  }
  let node;
  try {
    node = await startEdgeNode(config, {
      log,
      allowMissingTrustStore: values.config === undefined,
    });
  } catch (error) {
    if (error instanceof Ros2UnavailableError || error instanceof ConfigError) {
      console.error(`cap-edge: ${error.message}`);
      return 1;
    }
    console.error(`cap-edge: cannot start: ${(error as Error).message}`);
    return 1;
  }
  log(
    "info",
    `robot "${config.robotId}" serving gRPC on ${node.grpc.address}`,
    {
      stateDir: config.stateDir,
      backend: config.backend.kind,
      mqtt: config.mqtt?.url ?? null,
    },
  );
  const { promise: stopped, resolve } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  const handlers = signals.map((signal) => {
    const handler = () => resolve(signal);
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  const onHangup = () => void node.reloadTrustStore();
  Deno.addSignalListener("SIGHUP", onHangup);
  const signal = await stopped;
  Deno.removeSignalListener("SIGHUP", onHangup);
  log("info", `received ${signal}: shutting down`);
  await node.close({ exiting: true });
  for (const [name, handler] of handlers) {
    Deno.removeSignalListener(name, handler);
  }
  log("info", "closed");
  return 0;
}

if (import.meta.main) Deno.exit(await main());
