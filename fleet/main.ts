/**
 * `deno task fleet --broker <mqtt-url> [--listen 127.0.0.1:8080] [--db <path | postgres://…>]`:
 * the fleet console. `deno task fleet hash-password` reads a password on
 * stdin and prints its hash for the users file.
 * @module
 */
import { parseArgs } from "node:util";
import { hashPassword } from "./http/mod.ts";
import { startFleetConsole } from "./start_fleet_console.ts";

const USAGE =
  `Usage: deno task fleet --broker <mqtt-url> [--listen 127.0.0.1:8080] [--db <path | postgres://…>]
       [--prefix cap/v1] [--group cap-fleet] [--client-id <id>] [--connections 16]
       [--tls-cert <pem> --tls-key <pem> --users <users.json>]
       [--broker-ca <pem>] [--broker-cert <pem> --broker-key <pem>] [--broker-username <name>]
       [--operator-key <private.jwk.json>] [--robot-ca <pem> [--robot-cert <pem> --robot-key <pem>]]
       [--signing-key <private.jwk.json> [--signing-key-id <id>] [--llm-url <url>] [--llm-model <name>] [--max-attempts N]]
       deno task fleet hash-password   (reads the password on stdin)

Stores every robot's evidence (once per runId) from an MQTT 5 shared subscription
and serves the web console and its JSON API. The database defaults to fleet.db
(SQLite); a postgres:// URL uses PostgreSQL. Listening beyond loopback needs HTTPS
(--tls-cert/--tls-key) and a login: --users names a JSON file
{"users": {"<name>": "<hash from hash-password>"}}. The broker password comes from
CAP_FLEET_BROKER_PASSWORD.

Robots are reached over gRPC at the address their heartbeat announces. Stopping needs
nothing more; running and resuming need --operator-key (a key with the "operator" role
that signs the commands); --robot-ca is the CA of robots that serve TLS (--robot-cert and
--robot-key for mutual TLS). --signing-key (a "program-signer" key) makes the repair
button repair: the model is --llm-url (default $OPENAI_BASE_URL) and --llm-model (default
$CAP_MODEL), its API key $OPENAI_API_KEY.`;

/** Runs the console with `args`; resolves with the exit code when it stops. */
export async function fleetMain(
  args: string[],
  signal: AbortSignal,
): Promise<number> {
  if (args[0] === "hash-password") {
    const text = (await new Response(Deno.stdin.readable).text()).replace(
      /\r?\n$/,
      "",
    );
    if (text === "") {
      console.error("fleet hash-password: no password on stdin");
      return 2;
    }
    console.log(await hashPassword(text));
    return 0;
  }
  let values;
  try {
    const parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        broker: { type: "string" },
        listen: { type: "string" },
        db: { type: "string" },
        prefix: { type: "string" },
        group: { type: "string" },
        "client-id": { type: "string" },
        connections: { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        users: { type: "string" },
        "broker-ca": { type: "string" },
        "broker-cert": { type: "string" },
        "broker-key": { type: "string" },
        "broker-username": { type: "string" },
        "operator-key": { type: "string" },
        "robot-ca": { type: "string" },
        "robot-cert": { type: "string" },
        "robot-key": { type: "string" },
        "signing-key": { type: "string" },
        "signing-key-id": { type: "string" },
        "llm-url": { type: "string" },
        "llm-model": { type: "string" },
        "max-attempts": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    values = parsed.values;
  } catch (error) {
    console.error(`fleet: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const usage = (message: string) => {
    console.error(`fleet: ${message}\n\n${USAGE}`);
    return 2;
  };
  if (values.broker === undefined) {
    return usage("--broker <mqtt-url> is required");
  }
  if (!/^(mqtt|mqtts|ws|wss):\/\/\S+$/.test(values.broker)) {
    return usage(
      `--broker must be an mqtt://, mqtts://, ws:// or wss:// URL, got "${values.broker}"`,
    );
  }
  if (
    (values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)
  ) {
    return usage("--tls-cert and --tls-key go together");
  }
  const connections = values.connections === undefined
    ? undefined
    : Number(values.connections);
  if (
    connections !== undefined &&
    !(Number.isInteger(connections) && connections >= 1 && connections <= 32)
  ) {
    return usage(
      `--connections takes an integer from 1 to 32, got "${values.connections}"`,
    );
  }
  if (
    (values["robot-cert"] === undefined) !==
      (values["robot-key"] === undefined)
  ) {
    return usage("--robot-cert and --robot-key go together");
  }
  if (values["robot-cert"] !== undefined && values["robot-ca"] === undefined) {
    return usage("--robot-cert and --robot-key need --robot-ca <pem> (TLS)");
  }
  const llmFlag =
    (["signing-key-id", "llm-url", "llm-model", "max-attempts"] as const)
      .find((name) => values[name] !== undefined);
  if (llmFlag !== undefined && values["signing-key"] === undefined) {
    return usage(
      `--${llmFlag} configures repairs, which need --signing-key <private.jwk.json>`,
    );
  }
  if (
    values["signing-key"] !== undefined && values["llm-url"] === undefined &&
    !Deno.env.get("OPENAI_BASE_URL") && !Deno.env.get("OPENAI_API_KEY")
  ) {
    return usage(
      "--signing-key needs a model to repair with: --llm-url <url> (or OPENAI_BASE_URL, or OPENAI_API_KEY for OpenAI)",
    );
  }
  if (
    values["llm-url"] !== undefined &&
    !/^https?:\/\/\S+$/.test(values["llm-url"])
  ) {
    return usage(
      `--llm-url must be an http:// or https:// URL, got "${
        values["llm-url"]
      }"`,
    );
  }
  const maxAttempts = values["max-attempts"] === undefined
    ? undefined
    : Number(values["max-attempts"]);
  if (
    maxAttempts !== undefined &&
    !(Number.isInteger(maxAttempts) && maxAttempts >= 1 && maxAttempts <= 20)
  ) {
    return usage(
      `--max-attempts takes an integer from 1 to 20, got "${
        values["max-attempts"]
      }"`,
    );
  }
  const read = async (path: string, what: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new Error(
        `Cannot read the ${what} "${path}": ${(error as Error).message}`,
      );
    }
  };
  let fleet;
  try {
    let users: Map<string, string> | undefined;
    if (values.users !== undefined) {
      const json = JSON.parse(await read(values.users, "users file")) as {
        users?: Record<string, unknown>;
      };
      users = new Map();
      for (const [name, hash] of Object.entries(json.users ?? {})) {
        if (typeof hash === "string") users.set(name, hash);
      }
      if (users.size === 0) {
        return usage(
          `--users: "${values.users}" names no user ({"users": {"name": "hash"}})`,
        );
      }
    }
    const brokerTls = {
      ...(values["broker-ca"] === undefined
        ? {}
        : { ca: await read(values["broker-ca"], "broker CA") }),
      ...(values["broker-cert"] === undefined ? {} : {
        cert: await read(values["broker-cert"], "broker client certificate"),
      }),
      ...(values["broker-key"] === undefined
        ? {}
        : { key: await read(values["broker-key"], "broker client key") }),
    };
    const robotTls = values["robot-ca"] === undefined ? undefined : {
      ca: await read(values["robot-ca"], "robot CA"),
      ...(values["robot-cert"] === undefined ? {} : {
        cert: await read(values["robot-cert"], "robot client certificate"),
        key: await read(values["robot-key"]!, "robot client key"),
      }),
    };
    const operatorKey = values["operator-key"] === undefined
      ? undefined
      : await _readPrivateJwk(values["operator-key"], "operator key", read);
    const signingKey = values["signing-key"] === undefined
      ? undefined
      : await _readPrivateJwk(values["signing-key"], "signing key", read);
    fleet = await startFleetConsole({
      broker: values.broker,
      listen: values.listen,
      db: values.db,
      topicPrefix: values.prefix,
      group: values.group,
      clientId: values["client-id"],
      connections,
      brokerUsername: values["broker-username"],
      brokerPassword: Deno.env.get("CAP_FLEET_BROKER_PASSWORD"),
      brokerTls: Object.keys(brokerTls).length === 0 ? undefined : brokerTls,
      tls: values["tls-cert"] === undefined ? undefined : {
        cert: await read(values["tls-cert"], "TLS certificate"),
        key: await read(values["tls-key"]!, "TLS key"),
      },
      users,
      operatorKey,
      robotTls,
      repair: signingKey === undefined ? undefined : {
        signingKey,
        signingKeyId: values["signing-key-id"],
        llmUrl: values["llm-url"],
        llmModel: values["llm-model"],
        apiKey: Deno.env.get("OPENAI_API_KEY") || undefined,
        maxAttempts,
      },
      signal,
      log: (level, msg, data) => {
        if (level !== "debug") {
          console.error(level, msg, JSON.stringify(data ?? {}));
        }
      },
    });
  } catch (error) {
    if (error instanceof TypeError) return usage(error.message);
    console.error(`fleet: ${(error as Error).message}`);
    return 1;
  }
  console.error(
    `fleet console on ${fleet.url} (store: ${fleet.store.kind}; run and resume: ${
      values["operator-key"] === undefined ? "off, no --operator-key" : "on"
    }; repair: ${
      values["signing-key"] === undefined ? "off, no --signing-key" : "on"
    })`,
  );
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await fleet.close();
  return 0;
}

/**
 * Reads an Ed25519 private JWK (the format `cap keygen` writes; `kid` is
 * its key id); throws a `TypeError` naming the file when it is not one.
 */
async function _readPrivateJwk(
  path: string,
  what: string,
  read: (path: string, what: string) => Promise<string>,
): Promise<JsonWebKey & { kid?: string }> {
  let jwk: unknown;
  try {
    jwk = JSON.parse(await read(path, what));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new TypeError(`Cannot use the ${what} "${path}": not valid JSON`);
  }
  if (
    typeof jwk !== "object" || jwk === null ||
    (jwk as JsonWebKey).kty !== "OKP" ||
    (jwk as JsonWebKey).crv !== "Ed25519" ||
    typeof (jwk as JsonWebKey).d !== "string"
  ) {
    throw new TypeError(
      `Cannot use the ${what} "${path}": not an Ed25519 private JWK (make one with "deno task cap keygen")`,
    );
  }
  return jwk as JsonWebKey & { kid?: string };
}

if (import.meta.main) {
  const controller = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => controller.abort());
  }
  Deno.exit(await fleetMain(Deno.args, controller.signal));
}
