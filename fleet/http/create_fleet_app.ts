import { Hono } from "hono";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { EvidenceRecord } from "../../runtime/evidence/mod.ts";
import type { FleetStore, RobotRow } from "../store/mod.ts";
import { RobotCommander, RobotCommandError } from "../robot_commander.ts";
import { RepairBusyError, type RepairJobs } from "../repair_jobs.ts";
import { checkPassword } from "./hash_password.ts";
import { _EventHub, type _HubMessage } from "./_event_hub.ts";
import {
  _BadParameter,
  _cursor,
  _id,
  _label,
  _limit,
  _outcome,
  _readParams,
  _since,
} from "./_query_params.ts";

/** What sends the emergency stop (the ingest's MQTT connection). */
export interface StopSender {
  /** Publishes `cmd/stop` to the robot. */
  stop(robotId: string, reason: string): Promise<void>;
}

/** Options of {@linkcode createFleetApp}. */
export interface FleetAppOptions {
  /** The evidence store. */
  store: FleetStore;
  /** Sends the emergency stops. */
  stopper: StopSender;
  /** Login: user name → password hash from `hashPassword`. Without it, no login (loopback only). */
  users?: ReadonlyMap<string, string> | undefined;
  /** The page's files: path (`/`, `/app.js`, …) → body and content type. */
  assets?: ReadonlyMap<string, { body: string; type: string }> | undefined;
  /** Ends every open event stream when aborted (server shutdown). */
  signal?: AbortSignal | undefined;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: (() => number) | undefined;
  /**
   * Runs, resumes and lists the programs of robots over gRPC, at the
   * address their heartbeat announced. Default: one without an operator
   * key (run and resume answer 403) and without robot TLS.
   */
  commander?: RobotCommander | undefined;
  /** Repairs recorded runs; without it `POST /api/runs/<runId>/repair` answers 501. */
  repairs?: RepairJobs | undefined;
}

/** The console's HTTP app and the hub its live view is fed from. */
export interface FleetApp {
  /** The request handler (a Hono app's `fetch`): pass it to `Deno.serve`. */
  fetch: (request: Request) => Response | Promise<Response>;
  /** Tells the open pages that robots changed (coalesced). */
  robotsChanged(): void;
  /** Tells the open pages about newly stored runs. */
  runsStored(
    runs: readonly EvidenceRecord[],
  ): void;
}

const _LOGIN_CACHE_MS = 5 * 60_000;

/**
 * The console's web page and JSON API (Hono): robots, runs with filters
 * and a cursor, one run's record, stats, live updates over server-sent
 * events, and the emergency stop per robot and for the fleet.
 */
export function createFleetApp(options: FleetAppOptions): FleetApp {
  const { store, stopper } = options;
  const commander = options.commander ?? new RobotCommander();
  const repairs = options.repairs;
  const now = options.now ?? Date.now;
  const hub = new _EventHub();
  const app = new Hono();
  const logins = new Map<string, number>();

  app.onError((error, c) => {
    if (error instanceof _BadParameter) {
      return c.json({ error: error.message, parameter: error.parameter }, 400);
    }
    if (error instanceof RobotCommandError) {
      return c.json({ error: error.message, code: error.code }, error.status);
    }
    if (error instanceof RepairBusyError) {
      return c.json(
        { error: error.message, repair: error.jobId },
        error.status,
      );
    }
    if (error instanceof _NotFound) {
      return c.json({ error: error.message }, 404);
    }
    return c.json({ error: `Cannot answer: ${error.message}` }, 500);
  });

  if (options.users !== undefined) {
    const users = options.users;
    app.use("*", async (c, next) => {
      const header = c.req.header("authorization") ?? "";
      const cached = logins.get(header);
      if (cached !== undefined && cached > now()) return await next();
      const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
      let user = "";
      let password = "";
      if (match !== null) {
        try {
          const decoded = atob(match[1]!);
          const colon = decoded.indexOf(":");
          user = decoded.slice(0, colon);
          password = decoded.slice(colon + 1);
        } catch {
          // not base64
        }
      }
      const hash = users.get(user);
      if (hash === undefined || !(await checkPassword(password, hash))) {
        return c.json({ error: "Cannot answer: log in first" }, 401, {
          "www-authenticate": 'Basic realm="cap-edge fleet", charset="UTF-8"',
        });
      }
      if (logins.size > 1000) logins.clear();
      logins.set(header, now() + _LOGIN_CACHE_MS);
      await next();
    });
  }

  // Commands from a browser come only from the console's own page: a
  // cross-site request (a form or script on another site, which would carry
  // the browser's login) is refused by its Origin / Sec-Fetch-Site headers.
  // Clients that are not browsers send neither and are not affected.
  app.use("/api/*", async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const site = c.req.header("sec-fetch-site");
      const origin = c.req.header("origin");
      const own = new URL(c.req.url);
      const host = c.req.header("host") ?? own.host;
      let crossSite = site !== undefined && site !== "same-origin" &&
        site !== "none";
      if (origin !== undefined) {
        try {
          crossSite ||= new URL(origin).host !== host;
        } catch {
          crossSite = true;
        }
      }
      if (crossSite) {
        return c.json(
          {
            error: `Cannot accept the command: it comes from another site (${
              origin ?? site
            })`,
          },
          403,
        );
      }
    }
    c.header("cache-control", "no-store");
    await next();
  });

  app.get("/api/robots", async (c) => {
    _readParams(new URL(c.req.url), []);
    return c.json(await store.listRobots());
  });

  app.get("/api/runs", async (c) => {
    const params = _readParams(new URL(c.req.url), [
      "robot",
      "label",
      "program",
      "outcome",
      "since",
      "limit",
      "cursor",
    ]);
    const page = await store.listRuns({
      robot: _id("robot", params.get("robot")),
      label: _label(params.get("label")),
      program: _id("program", params.get("program")),
      outcome: _outcome(params.get("outcome")),
      sinceMs: _since(params.get("since"), now()),
      limit: _limit(params.get("limit")) ?? 100,
      cursor: _cursor(params.get("cursor")),
    });
    if (page.nextCursor !== null) {
      const next = new URL(c.req.url);
      next.searchParams.set("cursor", page.nextCursor);
      c.header("x-next-cursor", page.nextCursor);
      c.header("link", `<${next.pathname}${next.search}>; rel="next"`);
    }
    return c.json(page.runs);
  });

  app.get("/api/runs/:runId", async (c) => {
    _readParams(new URL(c.req.url), []);
    const runId = c.req.param("runId");
    const record = await store.getRun(runId);
    if (record === null) {
      return c.json({ error: `Cannot find run "${runId}"` }, 404);
    }
    return c.json(record);
  });

  app.get("/api/stats", async (c) => {
    const params = _readParams(new URL(c.req.url), ["robot", "since"]);
    return c.json(
      await store.stats({
        robot: _id("robot", params.get("robot")),
        sinceMs: _since(params.get("since"), now()),
      }),
    );
  });

  app.post("/api/robots/:robotId/stop", async (c) => {
    const robotId = _id("robotId", c.req.param("robotId"))!;
    const reason = await _reason(c);
    try {
      await stopper.stop(robotId, reason);
    } catch (error) {
      return c.json({ error: (error as Error).message }, 503);
    }
    return c.json({ stopped: [robotId] });
  });

  app.post("/api/stop", async (c) => {
    const reason = await _reason(c);
    const robots = await store.listRobots();
    const results = await Promise.allSettled(
      robots.map((r) => stopper.stop(r.robotId, reason)),
    );
    const stopped = robots.filter((_, i) => results[i]?.status === "fulfilled")
      .map((r) => r.robotId);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined && stopped.length < robots.length) {
      return c.json({
        stopped,
        error: ((failed as PromiseRejectedResult).reason as Error).message,
      }, 503);
    }
    return c.json({ stopped });
  });

  // What the page may offer: run and resume need the operator key, repair
  // the synthesis configuration.
  app.get("/api/console", (c) => {
    _readParams(new URL(c.req.url), []);
    return c.json({
      operatorKey: commander.canSign,
      robotTls: commander.hasTls,
      repair: repairs !== undefined,
    });
  });

  const robotRow = async (robotId: string): Promise<RobotRow> => {
    const row = (await store.listRobots()).find((r) => r.robotId === robotId);
    if (row === undefined) {
      throw new _NotFound(
        `Cannot find robot "${robotId}": the console has not heard from it`,
      );
    }
    return row;
  };

  app.get("/api/robots/:robotId/programs", async (c) => {
    _readParams(new URL(c.req.url), []);
    const robotId = _id("robotId", c.req.param("robotId"))!;
    const target = commander.target(await robotRow(robotId));
    return c.json(
      await commander.programs(target),
    );
  });

  app.post("/api/robots/:robotId/run", async (c) => {
    _readParams(new URL(c.req.url), []);
    const robotId = _id("robotId", c.req.param("robotId"))!;
    const body = await _body(c);
    const programId = _id(
      "programId",
      typeof body.programId === "string" ? body.programId : undefined,
    );
    if (programId === undefined) {
      throw new _BadParameter("programId", "is required", "body field");
    }
    const version = body.version ?? undefined;
    if (
      version !== undefined &&
      !(Number.isSafeInteger(version) && (version as number) >= 1)
    ) {
      throw new _BadParameter(
        "version",
        `must be an integer >= 1, got ${JSON.stringify(version)}`,
        "body field",
      );
    }
    // Said before anything about the robot: the console cannot sign.
    commander.checkCanSign("run", robotId);
    const target = commander.target(await robotRow(robotId));
    const started = await commander.run(target, programId, {
      version: version as number | undefined,
    });
    return c.json({ robotId, ...started }, 202);
  });

  app.post("/api/robots/:robotId/resume", async (c) => {
    _readParams(new URL(c.req.url), []);
    const robotId = _id("robotId", c.req.param("robotId"))!;
    commander.checkCanSign("resume", robotId);
    const target = commander.target(await robotRow(robotId));
    const { wasStopped } = await commander.resume(target);
    return c.json({ robotId, wasStopped });
  });

  app.post("/api/runs/:runId/repair", async (c) => {
    _readParams(new URL(c.req.url), []);
    const runId = c.req.param("runId");
    const body = await _body(c);
    if (body.run !== undefined && typeof body.run !== "boolean") {
      throw new _BadParameter("run", "must be true or false", "body field");
    }
    if (repairs === undefined) {
      return c.json({
        error:
          `Cannot repair run "${runId}" here: the console is not configured for synthesis (start it with --signing-key <private.jwk.json> and a model: --llm-url, --llm-model); or run: deno task cap synth --from-run ${runId} --console <this console's URL> --key <private.jwk.json> --to <robot host:port>`,
      }, 501);
    }
    const record = await store.getRun(runId);
    if (record === null) {
      return c.json({ error: `Cannot find run "${runId}"` }, 404);
    }
    if (body.run === true) commander.checkCanSign("run", record.robotId);
    const target = commander.target(await robotRow(record.robotId));
    const job = repairs.start(record, target, { run: body.run === true });
    c.header("location", `/api/repairs/${job.id}`);
    return c.json(job, 202);
  });

  app.get("/api/repairs", (c) => {
    _readParams(new URL(c.req.url), []);
    return c.json(repairs?.list() ?? []);
  });

  app.get("/api/repairs/:id", (c) => {
    _readParams(new URL(c.req.url), []);
    const id = c.req.param("id");
    const job = repairs?.get(id) ?? null;
    if (job === null) {
      return c.json({ error: `Cannot find repair "${id}"` }, 404);
    }
    return c.json(job);
  });

  app.get("/api/events", (c) => {
    _readParams(new URL(c.req.url), []);
    return streamSSE(c, async (stream) => {
      const queue: _HubMessage[] = [];
      let wake: (() => void) | null = null;
      const unsubscribe = hub.subscribe((message) => {
        if (queue.length < 1000) queue.push(message);
        wake?.();
      });
      const closed = new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        if (options.signal?.aborted) resolve();
        options.signal?.addEventListener("abort", () => resolve(), {
          once: true,
        });
      });
      try {
        await stream.writeSSE({
          event: "robots",
          data: JSON.stringify(await store.listRobots()),
        });
        while (!stream.aborted && !options.signal?.aborted) {
          const message = queue.shift();
          if (message !== undefined) {
            await stream.writeSSE(message);
            continue;
          }
          await Promise.race([
            closed,
            new Promise<void>((resolve) => wake = resolve),
          ]);
          wake = null;
        }
      } finally {
        unsubscribe();
      }
    });
  });

  for (const [path, asset] of options.assets ?? []) {
    app.get(path, (c) => {
      c.header("content-type", asset.type);
      c.header("x-content-type-options", "nosniff");
      if (asset.type.startsWith("text/html")) {
        c.header(
          "content-security-policy",
          "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        );
      }
      return c.body(asset.body);
    });
  }

  let robotsTimer: ReturnType<typeof setTimeout> | undefined;
  options.signal?.addEventListener("abort", () => {
    clearTimeout(robotsTimer);
    robotsTimer = undefined;
  }, { once: true });
  return {
    fetch: (request) => app.fetch(request),
    robotsChanged() {
      if (
        hub.size === 0 || robotsTimer !== undefined || options.signal?.aborted
      ) return;
      robotsTimer = setTimeout(async () => {
        robotsTimer = undefined;
        try {
          hub.publish("robots", await store.listRobots());
        } catch {
          // The store is closing; the next change tells again.
        }
      }, 100);
    },
    runsStored(records) {
      for (const r of records) {
        hub.publish("run", {
          runId: r.runId,
          robotId: r.robotId,
          programId: r.program?.programId ?? null,
          version: r.program?.version ?? null,
          outcome: r.outcome,
          label: r.failure?.label ?? null,
          line: r.failure?.line ?? null,
          startedAt: r.startedAt,
          endedAt: r.endedAt,
        });
      }
    },
  };
}

/** A robot or run the console does not know (404). */
class _NotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotFound";
  }
}

/** A command's JSON object body; an empty body is `{}`, anything else is a 400. */
async function _body(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new _BadParameter("body", "is not JSON", "request");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new _BadParameter("body", "is not a JSON object", "request");
  }
  return body as Record<string, unknown>;
}

/**
 * The stop's reason from a `{"reason"?: string}` body. A stop is never
 * refused for its body: anything else gets the default reason.
 */
async function _reason(c: Context): Promise<string> {
  const fallback = "stop from the fleet console";
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    return fallback;
  }
  const reason = typeof body === "object" && body !== null
    ? (body as { reason?: unknown }).reason
    : undefined;
  return typeof reason === "string" && reason.trim() !== ""
    ? reason.slice(0, 200)
    : fallback;
}
