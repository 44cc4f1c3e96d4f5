/**
 * Runs a command line as a subprocess for tests: the `cap` CLI, a Deno
 * script, or any program, with its exit code, stdout and stderr as text.
 * @module
 */

/** The repository root (where `deno.json` is). */
export const ROOT: URL = new URL("..", import.meta.url);

/** The flags of `deno task cap` (see `deno.json`). */
const CAP_FLAGS = [
  "--unstable-worker-options",
  "--allow-run=deno",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
];

/** What a finished subprocess left: its exit code and its output as text. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where and how a subprocess runs. */
export interface RunOptions {
  /** Working directory; the caller's when absent. */
  cwd?: string | URL;
  /** Variables added to the caller's environment (or the whole of it with `clearEnv`). */
  env?: Record<string, string>;
  /** Start from an empty environment instead of the caller's. */
  clearEnv?: boolean;
  signal?: AbortSignal;
}

/** Runs `command args…` with stdin closed and waits for it to exit. */
export async function runCommand(
  command: string | URL,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.clearEnv === undefined ? {} : { clearEnv: options.clearEnv }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs the `deno` that runs this test with `args` (`["run", …]`, `["task", …]`). */
export function runDeno(
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return runCommand(Deno.execPath(), args, options);
}

/**
 * Runs `deno task cap args…` (the task's flags, `cli/cap.ts`) in the
 * repository root with `NO_COLOR=1`.
 */
export function runCap(
  args: string[],
  options: Omit<RunOptions, "cwd"> = {},
): Promise<RunResult> {
  return runDeno(["run", ...CAP_FLAGS, "cli/cap.ts", ...args], {
    ...options,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
  });
}

/** A run's exit code, stdout and stderr, for an assertion's message. */
export function showRun(result: RunResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}
