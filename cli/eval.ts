/**
 * `cap eval [--model <name>] [--only <id>]… [--tasks <dir>] [--max-attempts N]
 * [--replay] [--json]`: runs the tabletop evaluation suite through synthesis
 * against the configured model (or the replay server) and prints, per task,
 * success, attempts used and failure labels, then the totals.
 * @module
 */
import { _parseArgsStrict } from "./_args.ts";
import {
  type EvalTaskResult,
  loadEvalTasks,
  runEval,
} from "../synthesis/mod.ts";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_HELPER_DEPTH,
} from "../synthesis/mod.ts";
import {
  _openModel,
  _SYNTHESIS_OPTIONS,
  _synthesisLimits,
  type SynthesisLimits,
} from "./_synthesis_flags.ts";

const USAGE =
  `Usage: cap eval [--model <name>] [--only <task id part>]… [--tasks <dir>] [--max-attempts N]
       [--max-helper-depth N] [--replay] [--json]
Model: OPENAI_BASE_URL, OPENAI_API_KEY, CAP_MODEL; with neither OPENAI_API_KEY nor
OPENAI_BASE_URL set, the replay server's recorded answers are used (not a model).
Defaults: every task in synthesis/eval/tasks, --max-attempts ${DEFAULT_MAX_ATTEMPTS}, --max-helper-depth ${DEFAULT_MAX_HELPER_DEPTH}.
Exit: 0 every task passed, 1 a task failed or the suite could not run, 2 bad usage.`;

/** Options for {@linkcode evalCommand}. */
export interface EvalCommandOptions {
  signal?: AbortSignal;
}

/**
 * Runs `cap eval`. Exit code 0 when every task passed, 1 when one failed or
 * the suite could not run, 2 on bad usage.
 */
export async function evalCommand(
  args: string[],
  options: EvalCommandOptions = {},
): Promise<number> {
  const { signal } = options;
  let parsed;
  try {
    parsed = _parseArgsStrict({
      args,
      allowPositionals: false,
      strict: true,
      options: {
        ..._SYNTHESIS_OPTIONS,
        only: { type: "string", multiple: true },
        tasks: { type: "string" },
      },
    });
  } catch (error) {
    console.error(`cap eval: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let limits: SynthesisLimits;
  try {
    limits = _synthesisLimits(values);
  } catch (error) {
    console.error(`cap eval: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const json = values.json === true;
  let tasks;
  let connection;
  try {
    tasks = await loadEvalTasks(values.tasks, {
      ...(values.only === undefined ? {} : { only: values.only }),
      ...(signal ? { signal } : {}),
    });
    if (tasks.length === 0) {
      console.error(
        `cap eval: no task matches ${JSON.stringify(values.only ?? [])}`,
      );
      return 2;
    }
    connection = await _openModel(values, signal);
  } catch (error) {
    console.error(`cap eval: ${(error as Error).message}`);
    return 1;
  }
  await using _connection = connection;
  if (!json) {
    console.log(connection.note);
    console.log(`Running ${tasks.length} task(s)…`);
  }
  const report = await runEval(tasks, {
    client: connection.client,
    ...limits,
    ...(json ? {} : { onTask: (r) => console.log(_line(r)) }),
    ...(signal ? { signal } : {}),
  });
  if (json) {
    console.log(
      JSON.stringify({ ...report, replay: connection.replay }, null, 2),
    );
  } else {
    const rate = ((100 * report.passed) / report.total).toFixed(0);
    console.log(
      `Total: ${report.passed}/${report.total} passed (${rate}%), ${report.attempts} attempt(s), model "${report.model}"${
        connection.replay ? " (replay: recorded answers, not a model)" : ""
      }`,
    );
  }
  return report.passed === report.total ? 0 : 1;
}

function _line(r: EvalTaskResult): string {
  const labels = r.failureLabels.length === 0 ? "-" : r.failureLabels.join(",");
  const helpers = r.helpers > 0 ? `  helpers ${r.helpers}` : "";
  const why = r.ok || r.error === undefined ? "" : `\n       ${r.error}`;
  return `${r.ok ? "PASS" : "FAIL"} ${
    r.id.padEnd(42)
  } attempts ${r.attempts}${helpers}  failures ${labels}${why}`;
}
