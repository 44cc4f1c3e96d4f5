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
       deno task fleet hash-password   (reads the password on stdin)

Stores every robot's evidence (once per runId) from an MQTT 5 shared subscription
and serves the web console and its JSON API. The database defaults to fleet.db
(SQLite); a postgres:// URL uses PostgreSQL. Listening beyond loopback needs HTTPS
(--tls-cert/--tls-key) and a login: --users names a JSON file
{"users": {"<name>": "<hash from hash-password>"}}. The broker password comes from
CAP_FLEET_BROKER_PASSWORD.`;

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
  console.error(`fleet console on ${fleet.url} (store: ${fleet.store.kind})`);
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await fleet.close();
  return 0;
}

if (import.meta.main) {
  const controller = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => controller.abort());
  }
  Deno.exit(await fleetMain(Deno.args, controller.signal));
}
