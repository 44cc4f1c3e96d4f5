import {
  allRobotsFilter,
  DEFAULT_TOPIC_PREFIX,
  parseRobotTopic,
} from "../../runtime/telemetry/mod.ts";

/** Options of {@linkcode FleetView}. */
export interface FleetViewOptions {
  /** Topic prefix the robots publish under. Default `cap/v1`. */
  topicPrefix?: string;
  /** Clock for "last seen", epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** What the fleet view knows about one robot. */
export interface RobotView {
  /** The robot's id. */
  robotId: string;
  /** From the retained `status` (or the latest heartbeat); null until heard. */
  status: string | null;
  /** The run in progress, from run events or the heartbeat. */
  currentRunId: string | null;
  /** The last run whose evidence arrived. */
  lastRunId: string | null;
  /** Outcome of the robot's newest stored run, or null. */
  lastOutcome: string | null;
  /** Failure label of the last run, or null. */
  lastFailureLabel: string | null;
  /** Distinct runs whose evidence arrived. */
  runs: number;
  /** Failed (or rejected or stopped) runs by failure label. */
  failures: Record<string, number>;
  /** Evidence waiting in the robot's outbox, from the latest heartbeat. */
  outboxDepth: number | null;
  /** When anything was last heard from the robot, epoch ms. */
  lastSeenMs: number | null;
}

const _decoder = new TextDecoder();
/** Run ids remembered per robot to count each run once (evidence is at-least-once). */
const _SEEN_RUNS = 4_096;
/** Payloads larger than this are not parsed. */
const _MAX_PAYLOAD = 4 * 1024 * 1024;

interface _Robot extends RobotView {
  seenRuns: Set<string>;
}

/**
 * Folds the messages robots publish under `<prefix>/robots/+/…` into
 * per-robot state and renders it as a table. Pure: no I/O.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const view = new FleetView();
 * view.update("cap/v1/robots/arm-01/status", "online");
 * equal(view.robots()[0]?.status, "online");
 * ```
 */
export class FleetView {
  /** Topic prefix the robots publish under. */
  readonly topicPrefix: string;
  #now: () => number;
  #robots = new Map<string, _Robot>();

  /** Creates it; see the options. */
  constructor(options: FleetViewOptions = {}) {
    this.topicPrefix = options.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
    this.#now = options.now ?? Date.now;
  }

  /** The topic filter that covers every robot. */
  get filter(): string {
    return allRobotsFilter(this.topicPrefix);
  }

  /** Folds one message in; false when it was not understood (and changed nothing). */
  update(topic: string, payload: string | Uint8Array): boolean {
    const parsed = parseRobotTopic(this.topicPrefix, topic);
    if (parsed === null || parsed.rest.length === 0) return false;
    const { robotId } = parsed;
    const parts = [robotId, ...parsed.rest];
    if (
      typeof payload !== "string" && payload.byteLength > _MAX_PAYLOAD
    ) return false;
    const text = typeof payload === "string"
      ? payload
      : _decoder.decode(payload);
    const kind = parts.slice(1).join("/");
    if (kind === "status") return this.#status(robotId, text);
    if (kind === "telemetry") return this.#telemetry(robotId, text);
    if (kind === "evidence") return this.#evidence(robotId, text);
    if (parts.length === 4 && parts[1] === "runs" && parts[3] === "events") {
      return this.#runEvent(robotId, parts[2]!, text);
    }
    return false;
  }

  /** Robots by id. */
  robots(): RobotView[] {
    return [...this.#robots.values()]
      .sort((a, b) => a.robotId.localeCompare(b.robotId))
      .map(({ seenRuns: _, ...view }) => ({
        ...view,
        failures: { ...view.failures },
      }));
  }

  /** Same as {@linkcode FleetView.robots}, for `JSON.stringify`. */
  toJSON(): RobotView[] {
    return this.robots();
  }

  /** A compact aligned table, one line per robot, ending with a newline. */
  render(): string {
    const now = this.#now();
    const header = [
      "ROBOT",
      "STATUS",
      "RUN",
      "LAST",
      "FAILURE",
      "RUNS",
      "FAILURES",
      "OUTBOX",
      "SEEN",
    ];
    const rows = this.robots().map((r) => [
      r.robotId,
      r.status ?? "?",
      r.currentRunId ?? "-",
      r.lastRunId === null ? "-" : `${r.lastRunId} ${r.lastOutcome ?? "?"}`,
      r.lastFailureLabel ?? "-",
      String(r.runs),
      Object.entries(r.failures)
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([label, n]) => `${label}:${n}`)
        .join(" ") || "-",
      r.outboxDepth === null ? "?" : String(r.outboxDepth),
      r.lastSeenMs === null ? "-" : _ago(now - r.lastSeenMs),
    ]);
    if (rows.length === 0) return "no robots seen yet\n";
    const table = [header, ...rows];
    const widths = header.map((_, i) =>
      Math.max(...table.map((row) => row[i]!.length))
    );
    return table
      .map((row) =>
        row.map((cell, i) =>
          i === row.length - 1 ? cell : cell.padEnd(widths[i]!)
        )
          .join("  ").trimEnd()
      )
      .join("\n") + "\n";
  }

  #robot(robotId: string): _Robot {
    let robot = this.#robots.get(robotId);
    if (robot === undefined) {
      robot = {
        robotId,
        status: null,
        currentRunId: null,
        lastRunId: null,
        lastOutcome: null,
        lastFailureLabel: null,
        runs: 0,
        failures: {},
        outboxDepth: null,
        lastSeenMs: null,
        seenRuns: new Set(),
      };
      this.#robots.set(robotId, robot);
    }
    return robot;
  }

  #status(robotId: string, text: string): boolean {
    let state = text.trim();
    const json = _json(state);
    if (_isObject(json) && typeof json.state === "string") state = json.state;
    if (!/^[a-z_]{1,32}$/.test(state)) return false;
    const robot = this.#robot(robotId);
    robot.status = state;
    robot.lastSeenMs = this.#now();
    if (state === "offline" || state === "online") robot.currentRunId = null;
    return true;
  }

  #telemetry(robotId: string, text: string): boolean {
    const json = _json(text);
    if (!_isObject(json)) return false;
    const robot = this.#robot(robotId);
    if (typeof json.state === "string") robot.status = json.state;
    if (typeof json.currentRunId === "string" || json.currentRunId === null) {
      robot.currentRunId = json.currentRunId;
    }
    const outbox = json.outbox;
    if (_isObject(outbox) && typeof outbox.depth === "number") {
      robot.outboxDepth = outbox.depth;
    }
    robot.lastSeenMs = this.#now();
    return true;
  }

  #evidence(robotId: string, text: string): boolean {
    const json = _json(text);
    if (!_isObject(json) || typeof json.runId !== "string") return false;
    const robot = this.#robot(robotId);
    robot.lastSeenMs = this.#now();
    if (robot.seenRuns.has(json.runId)) return true;
    robot.seenRuns.add(json.runId);
    if (robot.seenRuns.size > _SEEN_RUNS) {
      robot.seenRuns.delete(robot.seenRuns.values().next().value!);
    }
    robot.runs++;
    robot.lastRunId = json.runId;
    robot.lastOutcome = typeof json.outcome === "string" ? json.outcome : null;
    const failure = json.failure;
    const label = _isObject(failure) && typeof failure.label === "string"
      ? failure.label
      : null;
    robot.lastFailureLabel = label;
    if (label !== null) {
      robot.failures[label] = (robot.failures[label] ?? 0) + 1;
    }
    if (robot.currentRunId === json.runId) robot.currentRunId = null;
    return true;
  }

  #runEvent(robotId: string, runId: string, text: string): boolean {
    const json = _json(text);
    const robot = this.#robot(robotId);
    robot.lastSeenMs = this.#now();
    const ended = _isObject(json) &&
      (typeof json.outcome === "string" ||
        ["ended", "finished", "evidence", "done"].includes(
          String(json.type ?? json.kind ?? json.event ?? ""),
        ));
    if (ended) {
      if (robot.currentRunId === runId) robot.currentRunId = null;
    } else if (!robot.seenRuns.has(runId)) {
      robot.currentRunId = runId;
    }
    return true;
  }
}

function _json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function _isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}
