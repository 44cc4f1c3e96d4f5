/**
 * `cap init [--dir .cap] [--robot-id ID] [--listen host:port] [--mqtt URL]`:
 * the first step of a local setup. Makes a signing key, a trust store that
 * trusts it, and a service configuration with an MQTT block, then prints the
 * commands that come next.
 * @module
 */
import { HOST_PORT as _HOST_PORT } from "../verifier/mod.ts";
import { join, relative, resolve } from "node:path";
import { generateSigningKey } from "../verifier/mod.ts";
import { _parseCommand } from "./_args.ts";
import { UsageError } from "./_usage_error.ts";
import { DEFAULT_TOPIC_PREFIX } from "../runtime/telemetry/mod.ts";

const HELP =
  `Usage: deno task cap init [--dir <dir>] [--robot-id <id>] [--listen <host:port>]
         [--mqtt <url>] [--key-id <id>]

Makes what a local robot and its operator need, in <dir>:
  <dir>/keys/private.jwk.json  an Ed25519 key (roles program-signer and
                               operator; keep it secret, git ignores it)
  <dir>/trust.json             the robot's trust store, trusting that key
  <dir>/config.json            a service configuration: the simulator, gRPC on
                               --listen, state under .state/<robot-id>, and an
                               "mqtt" block for telemetry
then prints the commands to start the robot and send it a program.

Options:
  --dir <dir>             where to write (default .cap)
  --robot-id <id>         the robot's id (default local-arm)
  --listen <host:port>    the robot's gRPC address (default 127.0.0.1:50051)
  --mqtt <url>            the broker for telemetry (default mqtt://127.0.0.1:1883;
                          the robot runs without it and sends when it appears)
  --key-id <id>           the key's id (default <robot-id>-operator)
  -h, --help              show this help

Exit: 0 written, 1 the files exist already (nothing is overwritten), 2 bad usage.`;

/** `cap init`: exit 0 when written, 1 when the files exist, 2 on bad usage. */
export async function initCommand(args: string[]): Promise<number> {
  const flags = _parseCommand(args, {
    string: ["dir", "robot-id", "listen", "mqtt", "key-id"],
  }, HELP);
  if (flags === null) return 0;
  const dir = _clean(typeof flags.dir === "string" ? flags.dir : ".cap");
  const robotId = typeof flags["robot-id"] === "string"
    ? flags["robot-id"]
    : "local-arm";
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(robotId)) {
    throw new UsageError(
      `--robot-id must be 1-128 letters, digits, '_', '.', ':' or '-', got "${robotId}"`,
    );
  }
  const listen = typeof flags.listen === "string"
    ? flags.listen
    : "127.0.0.1:50051";
  if (!_HOST_PORT.test(listen)) {
    throw new UsageError(`--listen takes host:port, got "${listen}"`);
  }
  const mqttUrl = typeof flags.mqtt === "string"
    ? flags.mqtt
    : "mqtt://127.0.0.1:1883";
  if (!/^(mqtt|mqtts|ws|wss):\/\/\S+$/.test(mqttUrl)) {
    throw new UsageError(
      `--mqtt takes an mqtt://, mqtts://, ws:// or wss:// URL, got "${mqttUrl}"`,
    );
  }
  const keyId = typeof flags["key-id"] === "string"
    ? flags["key-id"]
    : `${robotId}-operator`;

  const keyPath = join(dir, "keys", "private.jwk.json");
  const trustPath = join(dir, "trust.json");
  const configPath = join(dir, "config.json");
  for (const path of [keyPath, trustPath, configPath]) {
    if (await _exists(path)) {
      console.error(
        `cap init: cannot set up "${dir}": "${path}" exists already (nothing was overwritten; use --dir for another setup)`,
      );
      return 1;
    }
  }
  let key;
  try {
    key = await generateSigningKey(keyId, {
      roles: ["program-signer", "operator"],
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  // The state folder sits under ./.state, which `deno task start` may write.
  const stateDir = relative(dir, resolve(".state", robotId)) || ".";
  const config = {
    robotId,
    stateDir,
    grpc: { listen },
    trustStore: "trust.json",
    backend: { kind: "sim" },
    mqtt: { url: mqttUrl, topicPrefix: DEFAULT_TOPIC_PREFIX },
  };
  await Deno.mkdir(join(dir, "keys"), { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(
    keyPath,
    JSON.stringify(key.privateJwk, null, 2) + "\n",
    { createNew: true, mode: 0o600 },
  );
  await Deno.writeTextFile(
    trustPath,
    JSON.stringify(key.trustStore, null, 2) + "\n",
    { createNew: true },
  );
  await Deno.writeTextFile(
    configPath,
    JSON.stringify(config, null, 2) + "\n",
    { createNew: true },
  );
  const envelope = join(dir, "stack_blocks.envelope.json");
  console.log(`wrote ${keyPath} (key "${keyId}", keep it secret)
wrote ${trustPath} (trusts "${keyId}" as program-signer and operator)
wrote ${configPath} (robot "${robotId}", gRPC ${listen}, MQTT ${mqttUrl})

Next:
  deno task start --config ${configPath}
  deno task cap sign examples/stack_blocks.js --key ${keyPath} --out ${envelope}
  deno task cap send ${envelope} --to ${listen} --run --operator-key ${keyPath}
  deno task cap list --to ${listen}
  deno task cap stop --to ${listen}

Telemetry (optional): start a broker with "mosquitto -p ${
    _port(mqttUrl)
  }", then watch with
  deno task cap fleet --broker ${mqttUrl}`);
  return 0;
}

/** `dir` without trailing slashes (`keys/` → `keys`), `.` for empty. */
export function _clean(dir: string): string {
  const trimmed = dir.replace(/\/+$/, "");
  return trimmed === "" ? (dir.startsWith("/") ? "/" : ".") : trimmed;
}

function _port(url: string): string {
  return /:(\d+)(\/|$)/.exec(url.replace(/^\w+:\/\//, ""))?.[1] ?? "1883";
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
