import type { Scene } from "../../skills-bridge/mod.ts";
import { parseScene } from "../../skills-bridge/mod.ts";

/** One evaluation task: an instruction, a scene, postconditions and a reference program that passes. */
export interface EvalTask {
  /** Id of the task, the file name without `.json`. */
  id: string;
  /** `pick_place`, `long_horizon`, `spatial` or `faults`. */
  category: string;
  /** The instruction given to the model. */
  instruction: string;
  /** The world the program runs in. */
  scene: Scene;
  /** Postconditions the run must meet. */
  checks: string[];
  /** The reference program's source. */
  reference: string;
}

/** The shipped tasks, `synthesis/eval/tasks/*.json` with a `.js` reference beside each. */
export const DEFAULT_EVAL_DIR: URL = new URL("./tasks/", import.meta.url);

/** Options for {@linkcode loadEvalTasks}. */
export interface LoadEvalTasksOptions {
  /** Only the tasks whose id contains one of these. */
  only?: readonly string[];
  /** Aborting stops the loading. */
  signal?: AbortSignal;
}

/**
 * Reads the evaluation tasks from `dir` (default: the shipped suite), sorted
 * by id. Throws naming the file and the field when a task is malformed.
 */
export async function loadEvalTasks(
  dir: string | URL = DEFAULT_EVAL_DIR,
  options: LoadEvalTasksOptions = {},
): Promise<EvalTask[]> {
  const base = typeof dir === "string"
    ? new URL(dir.endsWith("/") ? dir : `${dir}/`, `file://${Deno.cwd()}/`)
    : dir;
  const names: string[] = [];
  for await (const entry of Deno.readDir(base)) {
    if (entry.isFile && entry.name.endsWith(".json")) names.push(entry.name);
  }
  names.sort();
  const tasks: EvalTask[] = [];
  const read = (url: URL) =>
    Deno.readTextFile(
      url,
      options.signal === undefined ? {} : { signal: options.signal },
    );
  for (const name of names) {
    const url = new URL(name, base);
    const where = `Cannot load eval task "${decodeURIComponent(url.pathname)}"`;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await read(url));
    } catch (error) {
      throw new SyntaxError(
        `${where}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    for (const field of ["id", "instruction", "reference"] as const) {
      if (typeof json[field] !== "string" || json[field] === "") {
        throw new TypeError(
          `${where}: "${field}" must be a non-empty string, got ${
            JSON.stringify(json[field])
          }`,
        );
      }
    }
    const checks = json["checks"];
    if (
      !Array.isArray(checks) || !checks.every((c) => typeof c === "string")
    ) {
      throw new TypeError(
        `${where}: "checks" must be an array of strings, got ${
          JSON.stringify(checks)
        }`,
      );
    }
    const id = json["id"] as string;
    if (
      options.only !== undefined && options.only.length > 0 &&
      !options.only.some((o) => id.includes(o))
    ) continue;
    const scene = parseScene(json["scene"], { source: `${name} scene` });
    const reference = await read(new URL(json["reference"] as string, base));
    tasks.push({
      id,
      category: typeof json["category"] === "string" ? json["category"] : "",
      instruction: json["instruction"] as string,
      scene,
      checks: checks as string[],
      reference,
    });
  }
  return tasks;
}
