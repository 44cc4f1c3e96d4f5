/**
 * `cap replay <runId> --console <url> [--program <file.js>] [--json]`:
 * fetches a run's evidence from the fleet console and re-runs its program
 * against the recorded skill results, reporting the first call that
 * differs.
 * @module
 */
import { parseArgs } from "node:util";
import { fetchRunRecord } from "../fleet/mod.ts";
import { replayRun } from "./replay_run.ts";

const USAGE =
  `Usage: cap replay <runId> --console <url> [--program <file.js>] [--login user:password] [--json]
Re-runs the recorded program (or --program, a changed one) against the run's recorded
skill results. Exit 0 when it reproduces the run, 1 when it diverges, 2 on bad usage.`;

/** Runs `cap replay`; resolves with the exit code. */
export async function replayCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        console: { type: "string" },
        program: { type: "string" },
        login: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`cap replay: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const usage = (message: string) => {
    console.error(`cap replay: ${message}\n${USAGE}`);
    return 2;
  };
  if (positionals.length !== 1) {
    return usage(`expected one runId, got ${positionals.length} argument(s)`);
  }
  if (
    values.console === undefined || !/^https?:\/\/\S+$/.test(values.console)
  ) {
    return usage("--console <http(s)://host:port> is required");
  }
  const runId = positionals[0]!;
  let record;
  let source: string | undefined;
  try {
    record = await fetchRunRecord(values.console, runId, {
      login: values.login ?? Deno.env.get("CAP_FLEET_LOGIN"),
      signal: options.signal,
    });
    if (values.program !== undefined) {
      source = await Deno.readTextFile(values.program);
    }
  } catch (error) {
    console.error(`cap replay: ${(error as Error).message}`);
    return 1;
  }
  const result = await replayRun(record, {
    source,
    signal: options.signal,
  });
  if (values.json) {
    console.log(JSON.stringify(
      {
        runId,
        reproduced: result.reproduced,
        message: result.message,
        divergence: result.divergence,
        recorded: { outcome: record.outcome, failure: record.failure },
        replayed: {
          outcome: result.evidence.outcome,
          failure: result.evidence.failure,
        },
        calls: result.evidence.calls.length,
      },
      null,
      2,
    ));
  } else if (result.reproduced) {
    console.log(
      `Reproduced run ${runId}: ${result.evidence.calls.length} call(s), ${result.evidence.outcome}${
        result.evidence.failure === null
          ? ""
          : ` (${result.evidence.failure.label}${
            result.evidence.failure.line === undefined
              ? ""
              : ` at line ${result.evidence.failure.line}`
          })`
      }`,
    );
  } else {
    console.log(`Diverged from run ${runId}: ${result.message}`);
  }
  return result.reproduced ? 0 : 1;
}
