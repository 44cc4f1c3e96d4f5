/**
 * `cap runs --to <host:port>… [--label L] [--program ID] [--outcome O]
 * [--since T] [--limit N] [--json]`: the run history in each robot's
 * evidence store, newest first.
 * @module
 */
import type { WireRunSummary } from "../runtime/grpc/mod.ts";
import { _parseCommand } from "./_args.ts";
import {
  _eachRobot,
  _parseRobotCommand,
  _report,
  ROBOT_HELP,
} from "./_robots.ts";
import { _table } from "./_table.ts";
import { UsageError } from "./_usage_error.ts";

const HELP =
  `Usage: deno task cap runs --to <host:port>… [--label <label>] [--program <id>]
         [--outcome <outcome>] [--since <time>] [--limit N] [--page-token T] [--json]

Lists the runs in each robot's local evidence store (it keeps the newest
evidenceRetention runs, default 1000), newest first. "cap evidence <runId>"
shows one.

Options:
  --label <label>         only runs that failed with this label (estop,
                          skill_failed, postcondition_failed, …)
  --program <id>          only runs of this program
  --outcome <outcome>     only succeeded, failed, rejected or stopped runs
  --since <time>          only runs started since then: ISO 8601
                          (2026-03-01T12:00:00Z) or an age (30m, 2h, 7d)
  --limit N               at most N runs (default 20)
  --page-token <token>    continue where a previous listing stopped
  --json                  print { runs, nextPageToken } (several robots: an
                          array of { robot, ok, runs, nextPageToken, error })
  -h, --help              show this help

${ROBOT_HELP}

Exit: 0 every robot answered, 1 a robot could not be reached or refused the
filter, 2 bad usage.`;

/** `cap runs`: exit 0 when every robot answered, 1 otherwise, 2 on bad usage. */
export async function runsCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseRobotCommand(args, HELP, {
    string: ["label", "program", "outcome", "since", "limit", "page-token"],
    integers: ["limit"],
  });
  if (flags === null) return 0;
  const outcomes = ["succeeded", "failed", "rejected", "stopped"];
  if (typeof flags.outcome === "string" && !outcomes.includes(flags.outcome)) {
    throw new UsageError(
      `--outcome must be one of ${outcomes.join(", ")}, got "${flags.outcome}"`,
    );
  }
  const since = typeof flags.since === "string"
    ? _since(flags.since, new Date())
    : undefined;
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  const filter = {
    ...(typeof flags.label === "string" ? { label: flags.label } : {}),
    ...(typeof flags.program === "string" ? { programId: flags.program } : {}),
    ...(typeof flags.outcome === "string" ? { outcome: flags.outcome } : {}),
    ...(since === undefined ? {} : { since }),
  };
  const signal = options.signal ? { signal: options.signal } : {};
  const results = await _eachRobot(flags, {
    command: "runs",
    doing: "list the runs",
    ...signal,
  }, async (client) => {
    const runs: WireRunSummary[] = [];
    let pageToken = typeof flags["page-token"] === "string"
      ? flags["page-token"]
      : "";
    do {
      const page = await client.listRuns({
        ...filter,
        pageSize: Math.min(500, limit - runs.length),
        ...(pageToken === "" ? {} : { pageToken }),
      }, signal);
      runs.push(...page.runs);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && runs.length < limit);
    return { runs, nextPageToken: pageToken };
  });
  return _report(results, {
    json: flags.json === true,
    single: (page) => page,
    row: (page) => ({ ...page }),
    text: ({ runs, nextPageToken }) =>
      _renderRuns(runs) +
      (nextPageToken === "" ? "" : `\n(more: --page-token ${nextPageToken})`),
  });
}

/** The runs as a table. */
export function _renderRuns(runs: WireRunSummary[]): string {
  if (runs.length === 0) return "no runs";
  return _table(
    ["RUN", "STARTED", "PROGRAM", "OUTCOME", "LABEL", "CALLS"],
    runs.map((r) => [
      r.runId,
      r.startedAt,
      r.programId === null
        ? "-"
        : `${r.programId}${r.version === null ? "" : ` v${r.version}`}`,
      r.outcome,
      r.label ?? "-",
      String(r.skillCalls),
    ]),
  );
}

/** `--since` as an ISO time: an ISO 8601 time, or an age like `30m`, `2h`, `7d`. */
export function _since(text: string, now: Date): string {
  const age = /^([0-9]{1,9})(s|m|h|d)$/.exec(text);
  if (age !== null) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400 }[age[2] as "s"];
    return new Date(now.getTime() - Number(age[1]) * unit * 1000)
      .toISOString();
  }
  const ms = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError(
      `--since takes an ISO 8601 time (2026-03-01T12:00:00Z) or an age (30m, 2h, 7d), got "${text}"`,
    );
  }
  return new Date(ms).toISOString();
}
