/**
 * `cap fleet`: watch the robots of a fleet through the MQTT broker.
 * @module
 */
import mqtt from "mqtt";
import type { MqttClient } from "mqtt";
import { _parseArgsStrict } from "./_args.ts";
import { FleetView } from "../fleet/view/mod.ts";
import { DEFAULT_TOPIC_PREFIX } from "../runtime/telemetry/mod.ts";

/** Options of {@linkcode fleetCommand}. */
export interface FleetCommandOptions {
  /** Ends watching (exit 0). Without it, SIGINT does. */
  signal?: AbortSignal;
  /** Where output goes. Default stdout. */
  write?: (text: string) => void;
  /** Where errors go. Default stderr. */
  writeError?: (text: string) => void;
  /** Redraw in place with ANSI clear-screen. Default: whether stdout is a terminal. */
  isTty?: boolean;
}

const USAGE =
  `Usage: deno task cap fleet --broker <url> [--prefix cap/v1] [--once] [--json] [--wait-ms N]

Subscribes to <prefix>/robots/# and shows one line per robot: status, current
run, last outcome and failure label, failure counts by label, outbox depth,
last seen.

Options:
  --broker <url>   MQTT broker (mqtt://host:1883, mqtts://…, ws://…)
  --prefix <p>     topic prefix (default cap/v1)
  --once           wait briefly for retained messages, print once and exit
  --wait-ms <N>    how long --once waits after subscribing (default 500)
  --json           print JSON (one array per update) instead of a table
  -h, --help       show this help

Exit: 0 ok, 1 cannot reach the broker, 2 bad usage.`;

const _encoder = new TextEncoder();

function _stdout(text: string): void {
  const bytes = _encoder.encode(text);
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

function _stderr(text: string): void {
  const bytes = _encoder.encode(text);
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stderr.writeSync(bytes.subarray(written));
  }
}

/** Runs `cap fleet` with `args`; resolves with the exit code. */
export async function fleetCommand(
  args: string[],
  options: FleetCommandOptions = {},
): Promise<number> {
  const write = options.write ?? _stdout;
  const writeError = options.writeError ?? _stderr;
  const usage = (message: string) => {
    writeError(`cap fleet: ${message}\n\n${USAGE}\n`);
    return 2;
  };
  let values;
  try {
    const parsed = _parseArgsStrict({
      args,
      options: {
        broker: { type: "string" },
        prefix: { type: "string" },
        once: { type: "boolean" },
        json: { type: "boolean" },
        "wait-ms": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
    if (parsed.positionals.length > 0) {
      return usage(`unexpected argument "${parsed.positionals[0]}"`);
    }
    values = parsed.values;
  } catch (error) {
    return usage(
      (error as Error).message.replace(/\. To specify a positional.*$/s, ""),
    );
  }
  if (values.help) {
    write(USAGE + "\n");
    return 0;
  }
  const broker = values.broker;
  if (broker === undefined || broker === "") {
    return usage("--broker <url> is required");
  }
  if (!/^(mqtt|mqtts|tcp|ssl|tls|ws|wss):\/\/\S+$/.test(broker)) {
    return usage(
      `--broker must be an mqtt://, mqtts://, ws:// or wss:// URL, got "${broker}"`,
    );
  }
  const prefix = values.prefix ?? DEFAULT_TOPIC_PREFIX;
  if (!/^[^/+#]+(\/[^/+#]+)*$/.test(prefix)) {
    return usage(
      `--prefix must be "/"-separated segments without "+" or "#", got "${prefix}"`,
    );
  }
  const waitText = values["wait-ms"] ?? "500";
  if (!/^[0-9]{1,7}$/.test(waitText)) {
    return usage(`--wait-ms takes a non-negative integer, got "${waitText}"`);
  }
  const waitMs = Number(waitText);
  const json = values.json === true;
  const once = values.once === true;
  const isTty = options.isTty ?? Deno.stdout.isTerminal();

  const view = new FleetView({ topicPrefix: prefix });
  const output = () => json ? JSON.stringify(view) + "\n" : view.render();

  const stop = new AbortController();
  const onSigint = () => stop.abort();
  const signal = options.signal ?? stop.signal;
  if (options.signal === undefined) Deno.addSignalListener("SIGINT", onSigint);

  const client = mqtt.connect(broker, {
    protocolVersion: 5,
    clean: true,
    connectTimeout: 5_000,
    reconnectPeriod: once ? 0 : 1_000,
    resubscribe: true,
  });
  let redraw: ReturnType<typeof setTimeout> | undefined;
  let lastError = "";
  client.on("error", (error) => {
    if (!once && error.message !== lastError) {
      writeError(`cap fleet: ${broker}: ${error.message}\n`);
    }
    lastError = error.message;
  });
  client.on("message", (topic, payload) => {
    if (!view.update(topic, payload) || once) return;
    redraw ??= setTimeout(() => {
      redraw = undefined;
      write(isTty ? "\x1b[2J\x1b[H" + output() : output() + (json ? "" : "\n"));
    }, 100);
  });
  try {
    const connected = await _connected(client, signal);
    if (connected !== true) {
      if (signal.aborted) return 0;
      writeError(
        `cap fleet: cannot connect to broker "${broker}": ${connected}\n`,
      );
      return 1;
    }
    await client.subscribeAsync(view.filter, { qos: 1 });
    if (once) {
      await _sleep(waitMs, signal);
      write(output());
      return 0;
    }
    write(isTty ? "\x1b[2J\x1b[H" + output() : output() + (json ? "" : "\n"));
    await _sleep(Infinity, signal);
    return 0;
  } catch (error) {
    if (signal.aborted) return 0;
    writeError(`cap fleet: ${broker}: ${(error as Error).message}\n`);
    return 1;
  } finally {
    clearTimeout(redraw);
    if (options.signal === undefined) {
      Deno.removeSignalListener("SIGINT", onSigint);
    }
    await client.endAsync(true).catch(() => {});
  }
}

/** Resolves true once connected, or the reason it could not. */
function _connected(
  client: MqttClient,
  signal: AbortSignal,
): Promise<true | string> {
  if (client.connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (result: true | string) => {
      client.off("connect", onConnect);
      client.off("error", onError);
      client.off("close", onClose);
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onConnect = () => done(true);
    const onError = (error: Error) => done(error.message);
    const onClose = () => {
      if (client.options.reconnectPeriod === 0) done("connection closed");
    };
    const onAbort = () => done("aborted");
    client.on("connect", onConnect);
    client.on("error", onError);
    client.on("close", onClose);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Sleeps `ms` (Infinity: until aborted); resolves early on abort. */
function _sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = Number.isFinite(ms) ? setTimeout(finish, ms) : undefined;
    function finish() {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    }
    signal.addEventListener("abort", finish, { once: true });
  });
}
