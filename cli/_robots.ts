/**
 * What every command that talks to robots shares: `--to` (repeatable), the
 * TLS flags, one call per robot (concurrently), a result per robot, and
 * errors in plain words: `cap stop: cannot stop on 10.0.0.7:50051: …`.
 * @module
 */
import { HOST_PORT as _HOST_PORT } from "../verifier/mod.ts";
import {
  EdgeCallError,
  EdgeClient,
  type EdgeClientTls,
} from "../runtime/grpc/mod.ts";
import { _parseCommand, type CommandSpec, type ParsedArgs } from "./_args.ts";
import { _readText } from "./_read_text.ts";
import { UsageError } from "./_usage_error.ts";

/** The TLS flags of every remote command (single values). */
export const TLS_FLAGS = ["ca", "cert", "key", "server-name"];

/**
 * The flags of a command that talks to robots: `--to` (repeatable), the TLS
 * flags and `--json`, then the command's own.
 */
export function _robotFlags(own: CommandSpec = {}): CommandSpec {
  return {
    ...own,
    string: [...(own.string ?? []), ...TLS_FLAGS],
    boolean: ["json", ...(own.boolean ?? [])],
    collect: ["to", ...(own.collect ?? [])],
  };
}

/**
 * The start of every command that talks to robots: {@linkcode _parseCommand}
 * with {@linkcode _robotFlags}`(own)`.
 */
export function _parseRobotCommand(
  args: string[],
  help: string,
  own: CommandSpec = {},
): ParsedArgs | null {
  return _parseCommand(args, _robotFlags(own), help);
}

/** Help text for `--to` and the TLS flags. */
export const ROBOT_HELP = `Robot options:
  --to <host:port>        the robot's gRPC address (required; repeat to
                          address several robots: each is addressed, each
                          result is reported, exit 1 if any failed)
  --ca <pem>              CA that signed the robots' certificates (enables TLS)
  --cert <pem>            client certificate (mutual TLS)
  --key <pem>             client key (mutual TLS)
  --server-name <name>    expected name in the robot's certificate`;

/** The robots `--to` names, in order, once each; bad usage when none or malformed. */
export function _targets(flags: Record<string, unknown>): string[] {
  const to = flags.to;
  const list = Array.isArray(to) ? to as string[] : [];
  if (list.length === 0) throw new UsageError("needs --to <host:port>");
  for (const target of list) {
    if (!_HOST_PORT.test(target)) {
      throw new UsageError(`--to takes host:port, got "${target}"`);
    }
  }
  return [...new Set(list)];
}

/** The TLS settings from the flags, or `undefined` without `--ca`. */
export async function _tls(
  flags: Record<string, unknown>,
): Promise<EdgeClientTls | undefined> {
  if (typeof flags.ca !== "string") {
    for (const name of ["cert", "key", "server-name"]) {
      if (flags[name] !== undefined) {
        throw new UsageError(`--${name} needs --ca <pem> (TLS)`);
      }
    }
    return undefined;
  }
  return {
    ca: await _readText(flags.ca, "CA certificate"),
    ...(typeof flags.cert === "string"
      ? { cert: await _readText(flags.cert, "client certificate") }
      : {}),
    ...(typeof flags.key === "string"
      ? { key: await _readText(flags.key, "client key") }
      : {}),
    ...(typeof flags["server-name"] === "string"
      ? { serverName: flags["server-name"] }
      : {}),
  };
}

/** One robot's part of a command: its answer, or why there is none. */
export type RobotResult<T> =
  | { robot: string; ok: true; value: T }
  | { robot: string; ok: false; error: string };

/** Options of {@linkcode _eachRobot}. */
export interface EachRobotOptions {
  /** The command's name, for messages: `"stop"`. */
  command: string;
  /** What it does, for "cannot …": `"stop the robot"`. */
  doing: string;
  /** Call the robots one after another instead of at once. */
  sequential?: boolean;
  signal?: AbortSignal;
}

/**
 * Calls `call` for every robot `--to` names (at once, unless `sequential`)
 * and resolves with one result per robot, in `--to` order. A failure is
 * printed to stderr as `cap <command>: cannot <doing> on <robot>: <why>`
 * and kept in the result; other robots are still addressed.
 */
export async function _eachRobot<T>(
  flags: Record<string, unknown>,
  options: EachRobotOptions,
  call: (client: EdgeClient, robot: string) => Promise<T>,
): Promise<RobotResult<T>[]> {
  const targets = _targets(flags);
  const tls = await _tls(flags);
  const one = async (robot: string): Promise<RobotResult<T>> => {
    try {
      using client = new EdgeClient(robot, tls === undefined ? {} : { tls });
      return { robot, ok: true, value: await call(client, robot) };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (error instanceof UsageError) throw error;
      const why = _plainWhy(error);
      console.error(
        `cap ${options.command}: cannot ${options.doing} on ${robot}: ${why}`,
      );
      return { robot, ok: false, error: why };
    }
  };
  if (options.sequential === true) {
    const results: RobotResult<T>[] = [];
    for (const robot of targets) results.push(await one(robot));
    return results;
  }
  return await Promise.all(targets.map(one));
}

/**
 * Prints `text` for `robot`: as is when the command addresses one robot,
 * each line prefixed with `<robot>: ` when it addresses several.
 */
export function _printFor(robot: string, many: boolean, text: string): void {
  console.log(
    many
      ? text.split("\n").map((line) => `${robot}: ${line}`).join("\n")
      : text,
  );
}

/** Why a call to a robot failed, in plain words (no method names, no gRPC internals). */
export function _plainWhy(error: unknown): string {
  if (!(error instanceof EdgeCallError)) {
    return error instanceof Error ? error.message : String(error);
  }
  const cause = error.cause as { details?: string } | undefined;
  const details = _cleanDetails(
    cause?.details ??
      error.message.slice(
        error.message.indexOf(`${error.code}: `) + error.code.length + 2,
      ),
  );
  switch (error.code) {
    case "UNAVAILABLE": {
      const errno =
        /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET)\b/
          .exec(details)?.[1];
      const words: Record<string, string> = {
        ECONNREFUSED: "nothing is listening there (connection refused)",
        ENOTFOUND: "the host name is unknown",
        EAI_AGAIN: "the host name could not be resolved",
        EHOSTUNREACH: "the host is unreachable",
        ENETUNREACH: "the network is unreachable",
        ETIMEDOUT: "the connection timed out",
        ECONNRESET: "the connection was reset",
      };
      if (errno !== undefined) {
        return `the robot is not reachable: ${words[errno]}`;
      }
      if (/certificate|SSL|TLS|handshake/i.test(details)) {
        return `the TLS handshake failed: ${details}`;
      }
      return `the robot is not reachable${
        details === "" ? "" : `: ${details}`
      }`;
    }
    case "DEADLINE_EXCEEDED":
      return "the robot did not answer in time";
    case "CANCELLED":
      return "the call was cancelled";
    case "UNIMPLEMENTED":
      return "the robot's service does not offer this (an older version?)";
    case "PERMISSION_DENIED":
      return `the robot refused: ${details}`;
    case "UNAUTHENTICATED":
      return `the robot did not accept our credentials: ${details}`;
    default:
      return details === ""
        ? error.code.toLowerCase().replaceAll("_", " ")
        : details;
  }
}

/** grpc-js details without its trailing notes and timestamps. */
function _cleanDetails(details: string): string {
  return details
    .replace(/\s*Resolution note:.*$/s, "")
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)/g, "")
    .replace(/^No connection established\. Last error: (Error: )?/, "")
    .replace(/[.\s]+$/, "")
    // The robot's own "Cannot <do what>: " repeats what our line says.
    .replace(/^Cannot [^:"]*(?:"[^"]*"[^:"]*)*: /, "")
    .trim();
}

/** How {@linkcode _report} shows each robot's answer. */
export interface ReportOptions<T> {
  /** `--json`: print JSON instead of text. */
  json: boolean;
  /** The JSON printed when the command addressed one robot. */
  single: (value: T) => unknown;
  /** The fields of one robot's row when it addressed several. */
  row: (value: T) => Record<string, unknown>;
  /** The text for one answer (`null`: print nothing, e.g. printed live). */
  text: (value: T) => string | null;
  /** Whether an answer counts as success; default every answer does. */
  ok?: (value: T) => boolean;
}

/**
 * Prints every robot's answer (failures were printed by
 * {@linkcode _eachRobot}) and resolves to the exit code: 0 when every robot
 * answered and every answer is a success, else 1. With one robot the JSON is
 * its answer; with several an array of `{ robot, ok, …row, error }`.
 */
export function _report<T>(
  results: RobotResult<T>[],
  options: ReportOptions<T>,
): number {
  const ok = (r: RobotResult<T>) =>
    r.ok && (options.ok === undefined || options.ok(r.value));
  const many = results.length > 1;
  if (options.json) {
    if (many) {
      console.log(JSON.stringify(
        results.map((r) =>
          r.ok
            ? { robot: r.robot, ok: ok(r), ...options.row(r.value) }
            : { robot: r.robot, ok: false, error: r.error }
        ),
        null,
        2,
      ));
    } else if (results[0]?.ok) {
      console.log(JSON.stringify(options.single(results[0].value), null, 2));
    }
  } else {
    for (const r of results) {
      if (!r.ok) continue;
      const text = options.text(r.value);
      if (text !== null) _printFor(r.robot, many, text);
    }
  }
  return results.every(ok) ? 0 : 1;
}
