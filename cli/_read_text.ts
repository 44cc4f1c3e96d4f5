import { UsageError } from "./_usage_error.ts";

/** Reads a UTF-8 file named on the command line; a missing file is bad usage. */
export async function _readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`cannot read ${what} "${path}": no such file`);
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw new UsageError(`cannot read ${what} "${path}": it is a directory`);
    }
    throw new UsageError(
      `cannot read ${what} "${path}": ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
}
