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
