import { HOST_PORT } from "../verifier/mod.ts";
import type { EdgeClientTls } from "../runtime/grpc/mod.ts";
import type { FleetRepairOptions } from "./fleet_repair_options.ts";
import { FleetIngest, type IngestLog } from "./ingest/mod.ts";
import { createFleetApp } from "./http/create_fleet_app.ts";
import { type FleetStore, openStore } from "./store/mod.ts";
import { RobotCommander } from "./robot_commander.ts";
import { RepairJobs, type RunRepairer } from "./repair_jobs.ts";

/** Options of {@linkcode startFleetConsole}. */
export interface FleetConsoleOptions {
  /** MQTT broker URL. */
  broker: string;
  /** `host:port` to serve on. Default `127.0.0.1:8080` (`:0` picks a free port). */
  listen?: string | undefined;
  /** SQLite file path or `postgres://…` URL. Default `fleet.db`. */
  db?: string | undefined;
  /** An open store to use instead of `db` (the caller closes it). */
  store?: FleetStore | undefined;
  /** Topic prefix the robots publish under. */
  topicPrefix?: string | undefined;
  /** Shared-subscription group. Default `cap-fleet`. */
  group?: string | undefined;
  /** Base MQTT client id (fixed, so a restart resumes the session). */
  clientId?: string | undefined;
  /** Parallel MQTT connections. Default 16. */
  connections?: number | undefined;
  /** Broker user name. */
  brokerUsername?: string | undefined;
  /** Broker password (from `CAP_FLEET_BROKER_PASSWORD` on the command line). */
  brokerPassword?: string | undefined;
  /** TLS to the broker: PEM strings. */
  brokerTls?: { ca?: string; cert?: string; key?: string } | undefined;
  /** PEM certificate and key: serve HTTPS. Needed to listen beyond loopback. */
  tls?: { cert: string; key: string } | undefined;
  /** Login: user → password hash (`hashPassword`). Needed to listen beyond loopback. */
  users?: ReadonlyMap<string, string> | undefined;
  /**
   * The private JWK (a trust-store key with the `operator` role, `kid` as
   * its key id) that signs the `run` and `resume` commands of
   * `POST /api/robots/<id>/run` and `/resume`. Without it they answer 403.
   */
  operatorKey?: (JsonWebKey & { kid?: string }) | undefined;
  /** TLS to robots that announce it: CA, and a client certificate and key for mTLS (PEM). */
  robotTls?: EdgeClientTls | undefined;
  /** Repair recorded runs with the synthesis loop; without it `POST /api/runs/<id>/repair` answers 501. */
  repair?: FleetRepairOptions | undefined;
  /** A repairer to use instead of `repair`'s synthesis loop. */
  repairer?: RunRepairer | undefined;
  /** How long to wait for the broker before serving anyway (the ingest keeps connecting). Default 10 s. */
  brokerWaitMs?: number | undefined;
  /** Where the console logs what it does and ignores. */
  log?: IngestLog | undefined;
  /** Aborting cancels the call. */
  signal?: AbortSignal | undefined;
}

/** A running console: ingest, store and web server. */
export interface FleetConsole extends AsyncDisposable {
  /** `http://127.0.0.1:8080` (`https://` with TLS). */
  readonly url: string;
  /** The evidence store. */
  readonly store: FleetStore;
  /** The MQTT ingest (also sends the stops). */
  readonly ingest: FleetIngest;
  /** Stops serving, stores what arrived, disconnects (the broker keeps the session). */
  close(): Promise<void>;
}

const _LOOPBACK = /^(127\.[0-9.]+|localhost|\[?::1\]?)$/;

/** Splits `host:port`; throws a `TypeError` naming the value. */
export function parseListen(
  listen: string,
): { hostname: string; port: number } {
  const match = HOST_PORT.exec(listen);
  const port = Number(match?.[2]);
  if (match === null || port > 65535) {
    throw new TypeError(
      `Cannot listen: --listen takes host:port, got "${listen}"`,
    );
  }
  return { hostname: match[1]!.replace(/^\[|\]$/g, ""), port };
}

const _ASSETS: readonly [string, string, string][] = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/app.js", "app.js", "text/javascript; charset=utf-8"],
  ["/style.css", "style.css", "text/css; charset=utf-8"],
];

/**
 * Starts the fleet console: opens the store (migrating it), subscribes to
 * the broker, and serves the page and the JSON API. Listening beyond
 * loopback needs TLS and a login.
 */
export async function startFleetConsole(
  options: FleetConsoleOptions,
): Promise<FleetConsole> {
  const { hostname, port } = parseListen(options.listen ?? "127.0.0.1:8080");
  if (
    !_LOOPBACK.test(hostname) &&
    (options.tls === undefined || options.users === undefined)
  ) {
    throw new TypeError(
      `Cannot listen on "${hostname}": beyond loopback the console needs TLS (--tls-cert, --tls-key) and a login (--users)`,
    );
  }
  const assets = new Map<string, { body: string; type: string }>();
  for (const [path, file, type] of _ASSETS) {
    assets.set(path, {
      body: await Deno.readTextFile(new URL(`./web/${file}`, import.meta.url)),
      type,
    });
  }
  const operator = options.operatorKey === undefined ? undefined : {
    privateJwk: options.operatorKey,
    keyId: options.operatorKey.kid,
  };
  const commander = new RobotCommander({ operator, tls: options.robotTls });
  let repairer = options.repairer;
  if (repairer === undefined && options.repair !== undefined) {
    // Loaded only here: without repairs the console loads no LLM client.
    const { _synthesisRepairer } = await import("./_synthesis_repairer.ts");
    repairer = _synthesisRepairer({ ...options.repair, operator });
  }
  const repairs = repairer === undefined ? undefined : new RepairJobs(repairer);
  const ownStore = options.store === undefined;
  const store = options.store ?? await openStore(options.db ?? "fleet.db");
  const shutdown = new AbortController();
  const fleetApp = createFleetApp({
    store,
    stopper: { stop: (robotId, reason) => ingest.stop(robotId, reason) },
    users: options.users,
    assets,
    signal: shutdown.signal,
    commander,
    repairs,
  });
  const ingest = new FleetIngest({
    url: options.broker,
    store,
    topicPrefix: options.topicPrefix,
    group: options.group,
    clientId: options.clientId,
    connections: options.connections,
    username: options.brokerUsername,
    password: options.brokerPassword,
    tls: options.brokerTls,
    log: options.log,
    onEvent: (event) => {
      if (event.type === "robot") fleetApp.robotsChanged();
      else {
        fleetApp.runsStored(event.records);
        fleetApp.robotsChanged();
      }
    },
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    // Serve the stored history even while the broker is away: after a
    // bounded wait the ingest keeps connecting in the background.
    const waitMs = options.brokerWaitMs ?? 10_000;
    const timeout = AbortSignal.timeout(waitMs);
    try {
      await ingest.start({
        signal: options.signal === undefined
          ? timeout
          : AbortSignal.any([timeout, options.signal]),
      });
    } catch (error) {
      if (options.signal?.aborted || !timeout.aborted) throw error;
      options.log?.(
        "warn",
        "fleet broker not reachable yet; serving the store",
        {
          broker: options.broker,
          waitedMs: waitMs,
        },
      );
    }
    server = Deno.serve({
      hostname,
      port,
      onListen: () => {},
      ...(options.tls === undefined ? {} : options.tls),
    }, fleetApp.fetch);
  } catch (error) {
    await ingest.close().catch(() => {});
    await repairs?.close();
    if (ownStore) await store.close().catch(() => {});
    throw error;
  }
  const host = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      shutdown.abort();
      await repairs?.close();
      await server.shutdown();
      await ingest.close();
      if (ownStore) await store.close();
    })();
  return {
    url: `${
      options.tls === undefined ? "http" : "https"
    }://${host}:${server.addr.port}`,
    store,
    ingest,
    close,
    [Symbol.asyncDispose]: close,
  };
}
