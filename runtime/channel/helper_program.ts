/** Thrown when the core may not start its helper processes. */
export class HelperPermissionError extends Error {
  /** Creates the error naming the binary the core needs to run. */
  constructor(what: string) {
    super(
      `Cannot start ${what}: the core needs run permission for the Deno binary (--allow-run=${Deno.execPath()}, or --allow-run=deno when it is on PATH)`,
    );
    this.name = "HelperPermissionError";
  }
}

/**
 * The program the core starts its helper processes with: this Deno binary,
 * by its path, or by the name `deno` when only that is allowed
 * (`--allow-run=deno`, as the tasks give it; the binary's path varies with
 * how Deno was installed).
 *
 * @example
 * ```ts ignore
 * new Deno.Command(helperProgram("the sandbox host"), { args: ["--version"] });
 * ```
 */
export function helperProgram(what: string): string {
  for (const command of [Deno.execPath(), "deno"]) {
    if (
      Deno.permissions.querySync({ name: "run", command }).state === "granted"
    ) {
      return command;
    }
  }
  throw new HelperPermissionError(what);
}

/**
 * V8 flags every helper process starts with, and the core with them (the
 * `start` and `compile` tasks and the systemd unit pass the same): a young
 * generation of at most 2 MiB a semi-space. V8 otherwise grows it to 16 MiB per semi-space under a steady
 * stream of short-lived messages, and with it the old generation: measured
 * over 10 000 runs, the core went from 114 to 191 MiB resident and the
 * gateway from 88 to 212 MiB; with the flag, 106 to 124 and 81 to 100.
 */
export const HELPER_V8_FLAGS = "--v8-flags=--max-semi-space-size=2";
