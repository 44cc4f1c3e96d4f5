import { parseArgs } from "node:util";
import { UsageError } from "./_usage_error.ts";

/** How a command's flags are declared. */
export interface FlagSpec {
  /** Flags that take one value. */
  string?: string[];
  /** Flags without a value. */
  boolean?: string[];
  /** Flags that take a value and may repeat. */
  collect?: string[];
  /** Flag names (among `string`) that take a positive integer. */
  integers?: string[];
}

/** Parsed flags and positionals. */
export interface ParsedArgs {
  _: string[];
  [flag: string]: string | string[] | boolean | undefined | string[];
}

/**
 * Parses `args` strictly: unknown flags, missing values and malformed
 * numbers are a {@linkcode UsageError} naming the flag.
 */
export function _parseFlags(args: string[], spec: FlagSpec): ParsedArgs {
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = {
    help: { type: "boolean", short: "h" },
  };
  for (const name of spec.string ?? []) options[name] = { type: "string" };
  for (const name of spec.boolean ?? []) options[name] = { type: "boolean" };
  for (const name of spec.collect ?? []) {
    options[name] = { type: "string", multiple: true };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      message.replace(/\. To specify a positional argument.*$/s, ""),
    );
  }
  for (const name of spec.integers ?? []) {
    const value = parsed.values[name];
    if (value === undefined) continue;
    const text = String(value);
    if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw new UsageError(`--${name} takes a positive integer, got "${text}"`);
    }
  }
  return {
    ...(parsed.values as Record<string, string | boolean | string[]>),
    _: parsed.positionals,
  };
}
