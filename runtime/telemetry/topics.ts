/**
 * The MQTT topic scheme, built and read in this one file: every robot
 * publishes under `<prefix>/robots/<robotId>/…` (`status`, `telemetry`,
 * `evidence`, `runs/<runId>/events`) and listens on `…/cmd/stop`.
 * @module
 */

/** The topic prefix when none is configured. */
export const DEFAULT_TOPIC_PREFIX = "cap/v1";

/** What a robot topic carries, after `<prefix>/robots/<robotId>/`. */
export type RobotTopicKind = "status" | "telemetry" | "evidence" | "cmd/stop";

/** One topic segment: no `/`, `+`, `#` or NUL, at most 128 characters. */
// deno-lint-ignore no-control-regex -- NUL is forbidden in MQTT topics
const SEGMENT = /^[^/+#\u0000]{1,128}$/;

/** The topic of `kind` for `robotId` (`+` stands for every robot in a subscription). */
export function robotTopic(
  prefix: string,
  robotId: string,
  kind: RobotTopicKind,
): string {
  return `${prefix}/robots/${robotId}/${kind}`;
}

/** The topic of one run's events. */
export function runEventsTopic(
  prefix: string,
  robotId: string,
  runId: string,
): string {
  return `${prefix}/robots/${robotId}/runs/${runId}/events`;
}

/** Every robot's topics under `prefix`, as one subscription filter. */
export function allRobotsFilter(prefix: string): string {
  return `${prefix}/robots/#`;
}

/** A robot topic read back: whose it is and what follows the robot's id. */
export interface ParsedRobotTopic {
  /** The robot that publishes (or listens) on it. */
  robotId: string;
  /** The segments after the robot's id, e.g. `["status"]` or `["runs", id, "events"]`. */
  rest: string[];
}

/**
 * Reads `<prefix>/robots/<robotId>/…`; `null` for a topic outside the
 * prefix, or whose robot id is not a valid segment.
 *
 * @example
 * ```ts
 * import { parseRobotTopic } from "./topics.ts";
 * const parsed = parseRobotTopic("cap/v1", "cap/v1/robots/arm-01/status");
 * if (parsed?.robotId !== "arm-01" || parsed.rest[0] !== "status") {
 *   throw new Error("not parsed");
 * }
 * ```
 */
export function parseRobotTopic(
  prefix: string,
  topic: string,
): ParsedRobotTopic | null {
  const base = `${prefix}/robots/`;
  if (!topic.startsWith(base)) return null;
  const [robotId, ...rest] = topic.slice(base.length).split("/");
  if (robotId === undefined || !SEGMENT.test(robotId)) return null;
  return { robotId, rest };
}
